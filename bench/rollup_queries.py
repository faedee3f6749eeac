"""Benchmark: roll-up queries and periodic-report documents over a year of progress (not a timed test).

Starts a real `cchc up` (embedded NATS and PostgreSQL, or CCHC_NATS_URL + CCHC_DATABASE_URL with a
fresh database and subject prefix), loads the 34 provinces (3,321 communes) through
`POST /api/units/load` and waits until the reports read model holds them. Then:

  canary    one small plan issued and one progress report posted through the API (year + 1, outside
            the measured year): the rows the reports handlers wrote are compared, column by column,
            with the rows this script builds, so the seeded read model is known to be the same shape
  seed      a year of plans, assignments and progress written straight into schema `reports` with
            COPY (the event path applies ~200 events/s: a year for the whole country would take
            half an hour; ingestion has its own benchmark). Every province issues two plans: 8
            quarterly tasks and 4 monthly tasks, each led by every commune (80 assignments per
            commune); ids and due dates come from the tasks service's own rules. The roll-ups'
            aggregates are then filled from these facts (services/reports/aggregates.recount, what
            the handlers keep up to date event by event) and province 52 checked against a direct
            count of its facts (services/reports/direct.py)
  queries   each endpoint through the gateway, R runs after W warm-ups: p50 / p95 / max; the nation
            is unit VN (its children: the provinces)
  ingest    the targets again (province roll-up and children, national roll-up and children, the
            year) while progress.reported events for the seeded assignments are published straight
            to JetStream at --ingest-rate a second (as the tasks service would publish them: the
            reports consumer applies them and keeps the aggregates in the same transactions), L runs
            each, the load average beside them; then the figures checked against the direct count
  country   the roll-up of every province, one call after another, and the national roll-up's
            queries in process against the direct count of every fact in the country
  documents the province's quarterly report as JSON, DOCX and XLSX: time, size, and the DOCX and XLSX
            opened again (python-docx, openpyxl) and checked against the JSON; how many good models,
            reasons and notes in scope the report quotes; a small query sent while a DOCX is rendered
  cpu       CPU seconds of each process over the measured window, and of the rest of the machine
  explain   EXPLAIN (ANALYZE, BUFFERS) of the province roll-up's and children's count queries

    .venv/bin/python bench/rollup_queries.py [--provinces 52,01] [--communes-per-province N] [--runs R]

A smoke run: --provinces 52 --communes-per-province 10 --runs 3 --doc-runs 2 --country-runs 1 --load-runs 5 (~40 s).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

import asyncpg
import httpx
import psutil
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from vietnam_provinces import Province

from services.reports import aggregates, direct
from services.reports import queries as q
from services.reports.aggregates import NATION
from services.reports.domain import ancestors
from services.tasks.domain import NewAssignment, assignments_for
from shared.clock import VN
from shared.db import async_url, plain_url
from shared.deadlines import DueRules
from shared.events import PlanTask, ProductTarget, ProgressReported, UnitRef, make_event, subject
from shared.periods import Period
from shared.timelines import parse_timeline
from shared.workdays import WorkingCalendar

from common import auth_headers, bus_idle, bus_row, cchc_up, healthy, nats_connect, print_rows, until

PROVINCE = "52"  # Gia Lai, 135 communes


@dataclass(frozen=True)
class Task:
    title: str
    area: str
    channels: tuple[str, ...]
    products: dict[str, tuple[int, int]]  # kind -> (low, high) of what one report gives


QUARTERLY = [
    Task(
        "Tuyên truyền thủ tục hành chính, cơ chế một cửa, một cửa liên thông trên hệ thống truyền thanh",
        "procedures",
        ("radio",),
        {"broadcast": (3, 12), "column": (1, 3), "news": (2, 8)},
    ),
    Task(
        "Đăng tải tin, bài về cải cách hành chính trên Trang thông tin điện tử",
        "general",
        ("portal", "press"),
        {"article": (1, 6), "news": (2, 10), "infographic": (1, 2)},
    ),
    Task(
        "Tuyên truyền trên mạng xã hội (Zalo OA, Facebook, TikTok)",
        "digital_government",
        ("social", "video"),
        {"social_post": (4, 30), "reach": (300, 8000), "video": (1, 4)},
    ),
    Task(
        "Niêm yết công khai thủ tục hành chính tại Bộ phận một cửa",
        "procedures",
        ("public_posting",),
        {"document": (1, 4), "poster": (1, 6)},
    ),
    Task(
        "Lồng ghép tuyên truyền cải cách hành chính trong các cuộc họp thôn, tổ dân phố",
        "general",
        ("village_meeting", "conference"),
        {"conference": (1, 6), "participants": (40, 600), "leaflet": (50, 400)},
    ),
    Task(
        "Tuyên truyền Chỉ số hài lòng (SIPAS) và Chỉ số PAPI",
        "sipas",
        ("radio", "village_meeting"),
        {"broadcast": (1, 6), "leaflet": (50, 300), "conference": (1, 2)},
    ),
    Task(
        "Treo băng rôn, pano, áp phích; phát tờ rơi về cải cách hành chính",
        "general",
        ("visual",),
        {"poster": (2, 15), "leaflet": (100, 800)},
    ),
    Task(
        "Hướng dẫn người dân sử dụng dịch vụ công trực tuyến, thanh toán không dùng tiền mặt",
        "digital_government",
        ("dialogue", "social", "infographic"),
        {"dialogue": (1, 3), "participants": (20, 300), "infographic": (1, 3), "social_post": (2, 12)},
    ),
]

MONTHLY = [
    Task(
        "Chuyên mục cải cách hành chính trên Đài truyền thanh",
        "procedures",
        ("radio",),
        {"broadcast": (2, 8), "column": (1, 2)},
    ),
    Task("Tin, bài cải cách hành chính hằng tháng", "general", ("portal",), {"article": (1, 4), "news": (1, 6)}),
    Task(
        "Tuyên truyền chuyển đổi số, chính quyền số",
        "digital_government",
        ("social", "portal"),
        {"social_post": (2, 15), "reach": (200, 5000), "article": (1, 2)},
    ),
    Task(
        "Báo cáo kết quả công tác tuyên truyền cải cách hành chính",
        "par_index",
        (),
        {"document": (1, 1)},
    ),
]

NOTES = [
    "Đài truyền thanh xã hư hỏng một số cụm loa, đã đề nghị sửa chữa.",
    "Kinh phí tuyên truyền còn hạn chế.",
    "Nhân sự làm công tác tuyên truyền kiêm nhiệm nhiều việc.",
    "Người dân vùng sâu chưa quen sử dụng dịch vụ công trực tuyến.",
    "Đã phối hợp với Đoàn Thanh niên hướng dẫn người dân tại Bộ phận một cửa.",
]
REASONS = [
    "Chưa được bố trí kinh phí in ấn pano, tờ rơi.",
    "Hệ thống truyền thanh xã đang sửa chữa, chưa phát sóng được.",
    "Mưa lũ kéo dài, không tổ chức được họp thôn.",
    "Xã chưa có Trang thông tin điện tử sau sắp xếp đơn vị hành chính.",
]
GOOD_MODELS = [
    "Mô hình “Tổ công nghệ số cộng đồng” hướng dẫn người dân nộp hồ sơ trực tuyến tại nhà.",
    "Chuyên mục “Hỏi - đáp thủ tục hành chính” phát vào tối thứ Bảy hằng tuần.",
    "Mã QR tra cứu thủ tục hành chính dán tại nhà văn hóa các thôn.",
]

ASSIGNMENT_COLUMNS = [
    "id",
    "plan_id",
    "task_ref",
    "unit_code",
    "unit_path",
    "ancestors",
    "period",
    "period_start",
    "period_end",
    "due",
    "cancelled",
    "role",
    "state_at",
    "task_title",
    "plan_number",
]
PROGRESS_COLUMNS = [
    "assignment_id",
    "report_id",
    "status",
    "outputs",
    "first_reported_at",
    "last_reported_at",
    "done_at",
    "note",
    "reason",
    "good_model",
]
PLAN_COLUMNS = ["id", "number", "title", "issuer_code", "issuer_name", "period", "version", "closed"]
PLAN_TASK_COLUMNS = ["plan_id", "ref", "title", "area", "channels", "targets"]


# --- rows as the reports handlers write them ------------------------------------------------


def plan_tasks_of(tasks: Sequence[Task], leads: list[UnitRef], timeline: str, refs: Sequence[str]) -> list[PlanTask]:
    """The tasks as plan.issued carries them, leads resolved ("children" → every commune)."""
    return [
        PlanTask(
            ref=ref,
            title=task.title,
            lead=leads,
            schedule=parse_timeline(timeline),
            products=[ProductTarget(kind=kind, target=1) for kind in task.products],
            area=task.area,
            channels=list(task.channels),
        )
        for ref, task in zip(refs, tasks, strict=True)
    ]


def plan_row(plan_id: uuid.UUID, number: str, title: str, issuer: UnitRef, period: str) -> tuple[Any, ...]:
    """handlers.plan_issued: the plan as of version 1."""
    return (plan_id, number, title, issuer.code, issuer.name, period, 1, False)


def plan_task_rows(plan_id: uuid.UUID, tasks: list[PlanTask]) -> list[tuple[Any, ...]]:
    """handlers.plan_issued: one row per task, targets {kind: target}."""
    return [
        (plan_id, t.ref, t.title, t.area, t.channels, json.dumps({p.kind: p.target for p in t.products})) for t in tasks
    ]


def assignment_row(a: NewAssignment, plan_id: uuid.UUID, number: str, at: datetime) -> tuple[Any, ...]:
    """handlers.assignment_created (_assignment_row) for the assignment.created the tasks service
    publishes for `a`. task_title and plan_number as the event carries them (see the canary)."""
    period = Period.parse(a.period.code)
    return (
        a.id,
        plan_id,
        a.task_ref,
        a.unit.code,
        a.unit.path,
        ancestors(a.unit.path),
        period.code,
        period.start,
        period.end,
        a.due,
        False,
        a.role,
        at,
        a.task_title,
        number,
    )


def progress_row(
    assignment_id: uuid.UUID,
    status: str,
    outputs: dict[str, int],
    reports: list[tuple[datetime, str]],
    *,
    note: str = "",
    reason: str = "",
    good_model: str = "",
) -> tuple[Any, ...]:
    """handlers.progress_reported after every report in `reports` ((reported_at, status), oldest
    first; the last one carries `status` and the texts): first/last reported, first done."""
    done = [at for at, said in reports if said == "done"]
    return (
        assignment_id,
        uuid.uuid4(),
        status,
        json.dumps(outputs),
        reports[0][0],
        reports[-1][0],
        min(done) if done else None,
        note,
        reason,
        good_model,
    )


def vn_moment(day: date, rng: random.Random) -> datetime:
    """A moment in office hours (Vietnam time) on `day`, as UTC."""
    return datetime.combine(day, clock_time(7, 30), VN).astimezone(UTC) + timedelta(minutes=rng.randrange(0, 600))


def progress_for(
    a: tuple[Any, ...], task: Task, today: date, now: datetime, rng: random.Random
) -> tuple[Any, ...] | None:
    """A realistic latest report for one assignment row, or None (not reported)."""
    assignment_id, period_start, due = a[0], a[7], a[9]
    past, started = due < today, period_start <= today
    if rng.random() >= (0.93 if past else 0.45 if started else 0.02):
        return None
    last_day = min(due, today)
    if past and rng.random() < 0.22:  # late: 1-25 days after the due date, not in the future
        last_day = min(due + timedelta(days=rng.randint(1, 25)), today)
    else:
        last_day = last_day - timedelta(days=rng.randint(0, min(12, max(0, (last_day - period_start).days))))
    at = min(vn_moment(last_day, rng), now - timedelta(minutes=5))
    roll = rng.random()
    if past:
        status = "done" if roll < 0.90 else "cannot_do" if roll < 0.93 else "in_progress"
    else:
        status = "done" if started and roll < 0.5 else "in_progress"
    reports = [(at, status)]
    if rng.random() < 0.10:  # an earlier report "in progress", then this one: a correction
        reports.insert(0, (at - timedelta(days=rng.randint(2, 10), minutes=rng.randrange(600)), "in_progress"))
    if status == "cannot_do":
        return progress_row(assignment_id, status, {}, reports, reason=rng.choice(REASONS))
    kinds = list(task.products)
    chosen = rng.sample(kinds, k=min(len(kinds), rng.randint(2, 4)))
    if status == "in_progress":
        chosen = chosen[:1]
    outputs = {kind: rng.randint(*task.products[kind]) for kind in chosen}
    note = rng.choice(NOTES) if rng.random() < 0.06 else ""
    good = rng.choice(GOOD_MODELS) if status == "done" and rng.random() < 0.005 else ""
    return progress_row(assignment_id, status, outputs, reports, note=note, good_model=good)


# --- helpers ---------------------------------------------------------------------------------


def ms(seconds: list[float]) -> str:
    if len(seconds) < 2:
        return f"{seconds[0] * 1e3:.0f} ms" if seconds else "—"
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return f"p50 {cuts[49] * 1e3:.0f} ms, p95 {cuts[94] * 1e3:.0f} ms, max {max(seconds) * 1e3:.0f} ms"


def load() -> str:
    return "load " + " ".join(f"{n:.2f}" for n in os.getloadavg())


def report_message(prefix: str, a: tuple[Any, ...], rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
    """A progress.reported for a seeded assignment row (ASSIGNMENT_COLUMNS), reported now, as the
    tasks service publishes it: a first report or a correction of the one seeded."""
    now, unit = datetime.now(UTC), UnitRef(code=a[3], path=a[4])
    status = rng.choice(("done", "done", "done", "in_progress", "cannot_do"))
    payload = ProgressReported(
        report_id=uuid.uuid4(),
        assignment_id=a[0],
        plan_id=a[1],
        unit=unit,
        period=a[6],
        due=a[9],
        status=status,
        outputs={"broadcast": rng.randint(1, 9), "news": rng.randint(0, 5)} if status != "cannot_do" else {},
        reported_at=now,
        on_time=now.astimezone(VN).date() <= a[9],
        reason="Chưa bố trí được kinh phí" if status == "cannot_do" else "",
        done_at=now if status == "done" else None,
    )
    envelope = make_event("progress.reported", unit_path=unit.path, producer="tasks", payload=payload, at=now)
    headers = {"Nats-Msg-Id": str(envelope.id), "content-type": "application/json"}
    return subject(prefix, "progress.reported", unit.path), envelope.model_dump_json().encode(), headers


async def ingest(
    nats_url: str, prefix: str, rows: list[tuple[Any, ...]], rate: float, stop: asyncio.Event, seed_value: int
) -> tuple[int, float]:
    """Publish reports for random seeded assignments at `rate` a second (as the tasks service's
    NATS user, acked by JetStream) until `stop`; returns how many and over how long."""
    rng = random.Random(seed_value)
    nc = await nats_connect(nats_url, "tasks")
    sent, begun = 0, time.monotonic()
    try:
        js = nc.jetstream()
        while not stop.is_set():
            due = int((time.monotonic() - begun) * rate) - sent
            if due > 0:
                batch = [report_message(prefix, rng.choice(rows), rng) for _ in range(min(due, 200))]
                await asyncio.gather(*(js.publish(s, data, headers=h) for s, data, h in batch))
                sent += len(batch)
            await asyncio.sleep(0.02)
    finally:
        await nc.close()
    return sent, time.monotonic() - begun


Call = Callable[[AsyncSession, q.Scope, date], Awaitable[Any]]
# what GET /api/reports/rollup and /children run (services/reports/api.py)
ROLLUP: list[Call] = [lambda s, sc, _: q.get_unit_or_raise(s, sc.unit), q.rollup]
CHILDREN: list[Call] = [lambda s, sc, _: q.get_unit_or_raise(s, sc.unit), q.children]


async def in_process(
    sessions: async_sessionmaker[AsyncSession], scope: q.Scope, today: date, calls: list[Call], warmup: int, runs: int
) -> list[float]:
    """Seconds of each run of `calls` on one read-only snapshot, as the API's `snapshot()` opens it."""
    latencies = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        async with sessions() as session:
            await session.connection(
                execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            )
            await session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))  # as api.snapshot
            for call in calls:
                await call(session, scope, today)
        if i >= warmup:
            latencies.append(time.perf_counter() - start)
    return latencies


async def agree(session: AsyncSession, scope: q.Scope, today: date) -> list[str]:
    """Where the roll-up read from the aggregates differs from the direct count of the facts."""
    pairs = [
        ("totals", q.totals(session, scope, today), direct.direct_totals(session, scope, today)),
        ("outputs", q.outputs(session, scope), direct.direct_outputs(session, scope)),
        ("by area", q.outputs(session, scope, by="area"), direct.direct_outputs(session, scope, by="area")),
        ("by channel", q.outputs(session, scope, by="channel"), direct.direct_outputs(session, scope, by="channel")),
        ("by level", q.by_level(session, scope, today), direct.direct_by_level(session, scope, today)),
        ("children", q.children(session, scope, today), direct.direct_children(session, scope, today)),
    ]
    wrong = []
    for name, ours, theirs in pairs:
        if await ours != await theirs:
            wrong.append(f"{scope.unit} {scope.period.code} {name}")
    return wrong


# --- the run ---------------------------------------------------------------------------------


async def canary(api: httpx.AsyncClient, db: asyncpg.Connection, year: int, commune: UnitRef) -> list[str]:
    """One plan and one report through the event path; returns the columns where the reports
    handlers wrote something else than this script's row builders."""
    task, title = QUARTERLY[0], f"Kế hoạch kiểm tra (benchmark) năm {year}"
    draft = {
        "number": "1/KH-UBND",
        "title": title,
        "issuer": PROVINCE,
        "period": str(year),
        "tasks": [
            {
                "ref": "1",
                "title": task.title,
                "lead": [commune.code],
                "timeline": "hằng quý",
                "products": [{"kind": kind, "target": 1} for kind in task.products],
                "area": task.area,
                "channels": list(task.channels),
            }
        ],
    }
    plan_id = uuid.UUID((await api.post("/api/plans", json=draft)).raise_for_status().json()["id"])
    (await api.post(f"/api/plans/{plan_id}/issue")).raise_for_status()

    async def listed() -> list[dict[str, Any]] | None:
        got = await api.get("/api/assignments", params={"unit": commune.code, "plan": str(plan_id)})
        items = got.json().get("items", [])
        return items if len(items) == 4 else None

    items = sorted(await until(listed, 120, 0.2), key=lambda i: i["period"])
    sent = {
        "period": items[0]["period"],
        "status": "done",
        "outputs": {"broadcast": 5, "news": 3},
        "note": NOTES[0],
        "good_model": GOOD_MODELS[0],
    }
    (await api.post(f"/api/assignments/{items[0]['id']}/progress", json=sent)).raise_for_status()

    async def applied() -> bool:
        return bool(await db.fetchval("select count(*) from reports.progress where assignment_id = $1", items[0]["id"]))

    async def assigned() -> bool:
        return await db.fetchval("select count(*) from reports.assignments where plan_id = $1", plan_id) == 4

    await until(assigned, 120, 0.2)
    await until(applied, 120, 0.2)
    issuer = await db.fetchrow("select code, name, path from reports.units where code = $1", PROVINCE)
    tasks = plan_tasks_of([task], [commune], "hằng quý", ["1"])
    wanted_assignments = {
        row[0]: row
        for row in (
            assignment_row(a, plan_id, "1/KH-UBND", datetime.now(UTC))
            for a in assignments_for(
                plan_id=plan_id, period=str(year), tasks=tasks, calendar=WorkingCalendar(), rules=DueRules()
            )
        )
    }
    problems: list[str] = []

    def compare(what: str, got: Any, wanted: tuple[Any, ...], columns: list[str], skip: set[str]) -> None:
        for name, value in zip(columns, wanted, strict=True):
            have = got[name]
            if name in skip:
                continue
            if name in ("outputs", "targets"):
                value = json.loads(value)
                have = json.loads(have) if isinstance(have, str) else have
            if have != value:
                problems.append(f"{what}.{name}: event path {have!r}, seeded {value!r}")

    for got in await db.fetch(
        f"select {', '.join(ASSIGNMENT_COLUMNS)} from reports.assignments where plan_id = $1", plan_id
    ):
        compare("assignments", got, wanted_assignments[got["id"]], ASSIGNMENT_COLUMNS, {"state_at"})
    got_plan = await db.fetchrow(f"select {', '.join(PLAN_COLUMNS)} from reports.plans where id = $1", plan_id)
    compare(
        "plans",
        got_plan,
        plan_row(plan_id, "1/KH-UBND", title, UnitRef(**issuer), str(year)),
        PLAN_COLUMNS,
        set(),
    )
    got_task = await db.fetchrow(
        f"select {', '.join(PLAN_TASK_COLUMNS)} from reports.plan_tasks where plan_id = $1", plan_id
    )
    compare("plan_tasks", got_task, plan_task_rows(plan_id, tasks)[0], PLAN_TASK_COLUMNS, set())
    got_progress = await db.fetchrow(
        f"select {', '.join(PROGRESS_COLUMNS)} from reports.progress where assignment_id = $1", items[0]["id"]
    )
    at = got_progress["first_reported_at"]
    wanted_progress = progress_row(
        got_progress["assignment_id"],
        "done",
        sent["outputs"],
        [(at, "done")],
        note=sent["note"],
        good_model=sent["good_model"],
    )
    compare("progress", got_progress, wanted_progress, PROGRESS_COLUMNS, {"report_id"})
    return problems


async def seed(
    db: asyncpg.Connection, provinces: list[str], per_province: int, year: int, today: date, seed_value: int
) -> dict[str, Any]:
    rng = random.Random(seed_value)
    now = datetime.now(UTC)
    calendar, rules = WorkingCalendar(), DueRules()
    units = await db.fetch("select code, name, level, parent, path from reports.units order by code")
    by_code = {u["code"]: u for u in units}
    plans: list[tuple[Any, ...]] = []
    plan_tasks: list[tuple[Any, ...]] = []
    assignments: list[tuple[Any, ...]] = []
    task_of: list[Task] = []
    t0 = time.monotonic()
    for index, code in enumerate(provinces):
        province = by_code[code]
        issuer = UnitRef(code=code, path=province["path"], name=province["name"], level=province["level"])
        communes = [u for u in units if u["parent"] == code and u["level"] == "commune"]
        communes = communes[:per_province] if per_province else communes
        leads = [UnitRef(code=u["code"], path=u["path"], name=u["name"], level=u["level"]) for u in communes]
        issued = datetime.combine(date(year, 1, 8 + index % 10), clock_time(9, 0), VN).astimezone(UTC)
        for kind, catalogue, timeline in (("quarter", QUARTERLY, "hằng quý"), ("month", MONTHLY, "hằng tháng")):
            plan_id, number = uuid.uuid4(), f"{rng.randint(5, 60)}/KH-UBND"
            title = (
                f"Kế hoạch tuyên truyền cải cách hành chính năm {year}"
                if kind == "quarter"
                else f"Kế hoạch thông tin, tuyên truyền cải cách hành chính hằng tháng năm {year}"
            )
            refs = (
                [str(i + 1) for i in range(len(catalogue))]
                if kind == "quarter"
                else [f"II.{i + 1}" for i in range(len(catalogue))]
            )
            tasks = plan_tasks_of(catalogue, leads, timeline, refs)
            plans.append(plan_row(plan_id, number, title, issuer, str(year)))
            plan_tasks += plan_task_rows(plan_id, tasks)
            catalogue_of = dict(zip(refs, catalogue, strict=True))
            for a in assignments_for(plan_id=plan_id, period=str(year), tasks=tasks, calendar=calendar, rules=rules):
                assignments.append(assignment_row(a, plan_id, number, issued + timedelta(seconds=rng.random() * 60)))
                task_of.append(catalogue_of[a.task_ref])
    progress = [
        row for a, task in zip(assignments, task_of, strict=True) if (row := progress_for(a, task, today, now, rng))
    ]
    built = time.monotonic() - t0
    t1 = time.monotonic()
    async with db.transaction():
        for table, columns, records in (
            ("plans", PLAN_COLUMNS, plans),
            ("plan_tasks", PLAN_TASK_COLUMNS, plan_tasks),
            ("assignments", ASSIGNMENT_COLUMNS, assignments),
            ("progress", PROGRESS_COLUMNS, progress),
        ):
            await db.copy_records_to_table(table, schema_name="reports", columns=columns, records=records)
    copied = time.monotonic() - t1
    t2 = time.monotonic()
    await db.execute(
        "VACUUM (ANALYZE) reports.assignments, reports.progress, reports.plans, reports.plan_tasks, reports.units"
    )
    vacuumed = time.monotonic() - t2
    statuses = Counter(row[2] for row in progress)
    due_of = {a[0]: a[9] for a in assignments}
    late = sum(1 for p in progress if p[4].astimezone(VN).date() > due_of[p[0]])
    sizes = await db.fetchrow(
        "select pg_total_relation_size('reports.assignments') a, pg_total_relation_size('reports.progress') p"
    )
    return {
        "plans": len(plans),
        "plan_tasks": len(plan_tasks),
        "assignments": len(assignments),
        "progress": len(progress),
        "statuses": dict(statuses),
        "first_report_late": late,
        "notes": sum(1 for p in progress if p[7]),
        "good_models": sum(1 for p in progress if p[9]),
        "built_s": built,
        "copy_s": copied,
        "vacuum_s": vacuumed,
        "size_mb": (sizes["a"] / 2**20, sizes["p"] / 2**20),
        "rows": assignments,
    }


async def run(
    args: argparse.Namespace,
    base_url: str,
    nats_url: str,
    db_url: str,
    prefix: str,
    cpu: Callable[[], dict[str, float]],
) -> dict[str, str]:
    rows: dict[str, str] = {}
    results: list[tuple[str, str]] = []
    today = datetime.now(VN).date()
    year = today.year
    provinces = args.provinces or sorted(f"{int(p.code):02d}" for p in Province.iter_all())
    if PROVINCE not in provinces:
        provinces = [PROVINCE, *provinces]
    db = await asyncpg.connect(plain_url(db_url))
    engine = create_async_engine(async_url(db_url), pool_size=2)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    headers = auth_headers(base_url)
    async with httpx.AsyncClient(base_url=base_url, timeout=600, headers=headers) as api:
        try:
            await until(lambda: healthy(api), 180, 0.3)
            t0 = time.monotonic()
            loaded = (await api.post("/api/units/load", json={"provinces": provinces})).raise_for_status().json()
            t_loaded = time.monotonic()

            async def units_in_reports() -> bool:
                return await db.fetchval("select count(*) from reports.units") >= loaded["loaded"]

            await until(units_in_reports, args.timeout, 0.5)
            communes = await db.fetchval("select count(*) from reports.units where level = 'commune'")
            rows["units"] = (
                f"{len(provinces)} provinces, {loaded['loaded']} units ({communes} communes): stored"
                f" {t_loaded - t0:.1f} s, in reports.units {time.monotonic() - t0:.1f} s"
            )

            first = await db.fetchrow(
                "select code, name, level, path from reports.units where parent = $1 and level = 'commune'"
                " order by code limit 1",
                PROVINCE,
            )
            problems = await canary(api, db, year + 1, UnitRef(**first))
            rows["canary"] = (
                "seeded rows = event-path rows in every column"
                if not problems
                else "seeded rows differ from the event path in: " + "; ".join(dict.fromkeys(problems))
            )

            facts = await seed(db, provinces, args.communes_per_province, year, today, args.seed)
            rows["seed"] = (
                f"{facts['plans']} plans, {facts['plan_tasks']} plan tasks, {facts['assignments']:,} assignments,"
                f" {facts['progress']:,} progress ({facts['progress'] / facts['assignments']:.0%}; {facts['statuses']};"
                f" first report after the due date {facts['first_report_late']:,}; {facts['notes']:,} notes,"
                f" {facts['good_models']} good models); built {facts['built_s']:.1f} s, COPY {facts['copy_s']:.1f} s,"
                f" VACUUM ANALYZE {facts['vacuum_s']:.1f} s; assignments {facts['size_mb'][0]:.0f} MB,"
                f" progress {facts['size_mb'][1]:.0f} MB with indexes"
            )

            # the aggregates of these facts, as the handlers would have kept them; then one province
            # checked against the direct count of its facts
            t_agg = time.monotonic()
            async with sessions() as session, session.begin():
                written = await aggregates.recount(session)
            recounted_s = time.monotonic() - t_agg
            await db.execute("VACUUM (ANALYZE) reports.rollup_counts, reports.rollup_outputs")
            sizes = await db.fetchrow(
                "select pg_total_relation_size('reports.rollup_counts') c,"
                " pg_total_relation_size('reports.rollup_outputs') o"
            )
            year_scope = q.Scope(unit=PROVINCE, period=Period.parse(str(year)))
            async with sessions() as session:
                t_direct = time.perf_counter()
                await direct.direct_totals(session, year_scope, today)
                direct_ms = (time.perf_counter() - t_direct) * 1e3
                wrong = await agree(session, year_scope, today)
                wrong += await agree(session, replace(year_scope, view="as_reported"), today)
            assert not wrong, wrong
            rows["aggregates"] = (
                f"recount {written['rollup_counts']:,} count rows ({sizes['c'] / 2**20:.0f} MB),"
                f" {written['rollup_outputs']:,} output rows ({sizes['o'] / 2**20:.0f} MB) in {recounted_s:.1f} s;"
                f" province {PROVINCE} year, both views: totals, outputs (3 groupings), by level and children"
                f" = the direct count (its totals alone {direct_ms:.0f} ms)"
            )

            async def timed(
                name: str, path: str, params: dict[str, str] | None = None, runs: int = 0
            ) -> httpx.Response:
                reply: httpx.Response | None = None
                latencies: list[float] = []
                for i in range(args.warmup + (runs or args.runs)):
                    start = time.perf_counter()
                    reply = await api.get(path, params=params)
                    elapsed = time.perf_counter() - start
                    reply.raise_for_status()
                    if i >= args.warmup:
                        latencies.append(elapsed)
                assert reply is not None
                results.append((name, f"{ms(latencies)}, {len(reply.content):,} B"))
                return reply

            period_q, period_y = f"{year}-Q1", str(year)
            cpu_before, t_measure = cpu(), time.monotonic()
            q1 = (await timed("rollup 52 Q1", "/api/reports/rollup", {"unit": PROVINCE, "period": period_q})).json()
            yr = (await timed("rollup 52 year", "/api/reports/rollup", {"unit": PROVINCE, "period": period_y})).json()
            for label, narrowed in (
                ("as_reported", {"view": "as_reported"}),
                ("area=procedures", {"area": "procedures"}),
                ("kind=broadcast", {"kind": "broadcast"}),
                ("channel=social", {"channel": "social"}),
            ):
                await timed(
                    f"rollup 52 year {label}", "/api/reports/rollup", {"unit": PROVINCE, "period": period_y} | narrowed
                )
            commune = await timed(
                "rollup one commune year", "/api/reports/rollup", {"unit": first["code"], "period": period_y}
            )
            children = (
                await timed("children 52 year", "/api/reports/children", {"unit": PROVINCE, "period": period_y})
            ).json()
            await timed("children 52 Q1", "/api/reports/children", {"unit": PROVINCE, "period": period_q})
            await timed("rollup VN (nation) year", "/api/reports/rollup", {"unit": NATION, "period": period_y})
            await timed(
                "children VN (the provinces) year", "/api/reports/children", {"unit": NATION, "period": period_y}
            )

            # the targets again while progress events are applied (the reports consumer writes the
            # aggregates the queries read, in the same rows: the province's, the nation's)
            stop = asyncio.Event()
            loads = [load()]
            feeding = asyncio.create_task(
                ingest(nats_url, prefix, facts["rows"], args.ingest_rate, stop, args.seed + 1)
            )
            await asyncio.sleep(3)  # under way
            for name, path, params in (
                ("ingest: rollup 52 year", "/api/reports/rollup", {"unit": PROVINCE, "period": period_y}),
                ("ingest: children 52 year", "/api/reports/children", {"unit": PROVINCE, "period": period_y}),
                ("ingest: rollup VN year", "/api/reports/rollup", {"unit": NATION, "period": period_y}),
                ("ingest: children VN year", "/api/reports/children", {"unit": NATION, "period": period_y}),
            ):
                await timed(name, path, params, runs=args.load_runs)
                loads.append(load())
            # the same queries in process (the endpoints' own calls on one read-only snapshot, without
            # HTTP, the gateway and the token check): what the database and SQLAlchemy take
            for name, scope, calls in (
                ("ingest, in process: rollup 52 year", year_scope, ROLLUP),
                ("ingest, in process: children 52 year", year_scope, CHILDREN),
                ("ingest, in process: rollup VN year", replace(year_scope, unit=NATION), ROLLUP),
                ("ingest, in process: children VN year", replace(year_scope, unit=NATION), CHILDREN),
            ):
                results.append((name, ms(await in_process(sessions, scope, today, calls, args.warmup, args.load_runs))))
            loads.append(load())
            stop.set()
            sent, seconds = await feeding
            stopped = time.monotonic()
            await until(lambda: bus_idle(nats_url, prefix), args.timeout, 0.2)
            drained = time.monotonic() - stopped
            async with sessions() as session:
                wrong = await agree(session, year_scope, today)
                wrong += await agree(session, replace(year_scope, unit=NATION), today)
            assert not wrong, wrong
            rows["ingest"] = (
                f"{sent:,} progress.reported published in {seconds:.0f} s ({sent / seconds:,.0f}/s), all applied"
                f" {drained:.1f} s after the last; loads {' · '.join(loads)};"
                f" afterwards province {PROVINCE} and VN = the direct count"
            )
            lagging = (
                await timed("lagging 52 year", "/api/reports/lagging", {"unit": PROVINCE, "period": period_y})
            ).json()
            report = (await timed("report 52 Q1 JSON", f"/api/reports/{PROVINCE}/{period_q}")).json()
            docx = await timed("report 52 Q1 DOCX", f"/api/reports/{PROVINCE}/{period_q}.docx", runs=args.doc_runs)
            xlsx = await timed("report 52 Q1 XLSX", f"/api/reports/{PROVINCE}/{period_q}.xlsx", runs=args.doc_runs)
            docx_year = await timed(
                "report 52 year DOCX", f"/api/reports/{PROVINCE}/{period_y}.docx", runs=args.doc_runs
            )

            # The documents are rendered inside the reports service's event loop: does a small query
            # wait while a DOCX is being made? Probes one after another for as long as it takes.
            probe = {"unit": first["code"], "period": period_q}
            alone: list[float] = []
            worst: list[float] = []
            for _ in range(args.doc_runs):
                start = time.perf_counter()
                (await api.get("/api/reports/lagging", params=probe)).raise_for_status()
                alone.append(time.perf_counter() - start)
                document_call = asyncio.create_task(api.get(f"/api/reports/{PROVINCE}/{period_q}.docx"))
                during: list[float] = []
                while not document_call.done():
                    start = time.perf_counter()
                    (await api.get("/api/reports/lagging", params=probe)).raise_for_status()
                    during.append(time.perf_counter() - start)
                    await asyncio.sleep(0.05)
                (await document_call).raise_for_status()
                worst.append(max(during))
            results.append(
                (
                    "lagging of one commune, Q1: alone / slowest during a DOCX",
                    f"{ms(alone)} / {ms(worst)}",
                )
            )

            # checks: the figures agree with what was seeded and with each other
            seeded_52 = await db.fetchval(
                "select count(*) from reports.assignments where ancestors @> $1 and role = 'lead'"
                " and period_start >= $2 and period_end <= $3",
                [PROVINCE],
                Period.parse(period_y).start,
                Period.parse(period_y).end,
            )
            own_children = await db.fetchval("select count(*) from reports.units where parent = $1", PROVINCE)
            checks = [
                f"rollup 52 year expected {yr['expected']:,} (seeded {seeded_52:,})",
                f"Q1 expected {q1['expected']:,}, reported {q1['reported']:,}, on time {q1['on_time']:,}",
                f"year states {yr['states']}",
                f"children {children['count']} (units under 52: {own_children}),"
                f" sum of expected {sum(r['expected'] for r in children['items']):,}",
                f"lagging {lagging['count']} units",
                f"one commune's year roll-up {commune.json()['expected']} assignments",
            ]
            assert yr["expected"] == seeded_52, (yr["expected"], seeded_52)
            document = Document(io.BytesIO(docx.content))
            unit_rows = len(document.tables[1].rows)
            task_rows = len(document.tables[2].rows)
            assert unit_rows == 1 + own_children, unit_rows
            empty_titles = sum(1 for row in document.tables[2].rows[1:] if not row.cells[1].text.strip())
            book = load_workbook(io.BytesIO(xlsx.content))
            total = list(book["Nhiệm vụ"].iter_rows(min_row=3, values_only=True))[-1]
            assert total[4:7] == (report["expected"], report["reported"], report["on_time"]), total
            checks.append(
                f"DOCX Q1 opens: {len(document.tables)} tables, unit table {unit_rows} rows,"
                f" task table {task_rows} rows"
                f" ({empty_titles} without a title), {len(document.paragraphs)} paragraphs;"
                f" year DOCX {len(docx_year.content):,} B; XLSX sheets {book.sheetnames}, totals = JSON"
            )
            # what the report quotes (queries.highlights, at most 200 rows) against what is in scope
            in_scope = await db.fetchrow(
                "select count(*) filter (where p.good_model <> '') good_models,"
                " count(*) filter (where p.status = 'cannot_do' and p.reason <> '') cannot_do,"
                " count(*) filter (where p.note <> '') notes"
                " from reports.assignments a join reports.progress p on p.assignment_id = a.id"
                " where a.ancestors @> $1 and not a.cancelled and a.period_start >= $2 and a.period_end <= $3",
                [PROVINCE],
                Period.parse(period_q).start,
                Period.parse(period_q).end,
            )
            checks.append(
                "Q1 report quotes "
                + ", ".join(
                    f"{len(report['highlights'][key])} of {in_scope[key]} {key}"
                    for key in ("good_models", "cannot_do", "notes")
                )
            )
            rows["checks"] = " · ".join(checks)

            # the whole country: every province after another, and one statement over all communes
            sweeps: list[float] = []
            per_call: list[float] = []
            expected_total = 0
            for _ in range(args.country_runs):
                start = time.perf_counter()
                expected_total = 0
                for code in provinces:
                    begun = time.perf_counter()
                    body = (
                        (await api.get("/api/reports/rollup", params={"unit": code, "period": period_y}))
                        .raise_for_status()
                        .json()
                    )
                    per_call.append(time.perf_counter() - begun)
                    expected_total += body["expected"]
                sweeps.append(time.perf_counter() - start)
            results.append(
                (
                    f"country: {len(provinces)} province roll-ups in a row",
                    f"total {', '.join(f'{s:.1f} s' for s in sweeps)}; per call {ms(per_call)}",
                )
            )
            scope = q.Scope(unit=NATION, period=Period.parse(period_y))
            parts: dict[str, list[float]] = {}
            national: dict[str, Any] = {}
            for i in range(args.warmup + args.country_runs):
                async with sessions() as session:
                    for part, call in (
                        ("totals", lambda s: q.totals(s, scope, today)),
                        ("by_level", lambda s: q.by_level(s, scope, today)),
                        ("outputs", lambda s: q.outputs(s, scope)),
                        ("by_area", lambda s: q.outputs(s, scope, by="area")),
                        ("by_channel", lambda s: q.outputs(s, scope, by="channel")),
                    ):
                        start = time.perf_counter()
                        national[part] = await call(session)
                        if i >= args.warmup:
                            parts.setdefault(part, []).append(time.perf_counter() - start)
            whole = [sum(values) for values in zip(*parts.values(), strict=True)]
            results.append(
                (
                    "country: VN's roll-up parts, a query each (SQL, in process)",
                    f"total {ms(whole)}; "
                    + ", ".join(f"{k} {statistics.median(v) * 1e3:.0f}" for k, v in parts.items()),
                )
            )
            seeded_country = await db.fetchval(
                "select count(*) from reports.assignments where period_start >= $1 and period_end <= $2"
                " and role = 'lead' and not cancelled",
                scope.period.start,
                scope.period.end,
            )
            async with sessions() as session:
                t_direct = time.perf_counter()
                counted = await direct.direct_totals(session, scope, today)
                direct_ms = (time.perf_counter() - t_direct) * 1e3
            assert national["totals"] == counted
            assert national["totals"]["expected"] == expected_total == seeded_country
            checks.append(
                f"country expected {national['totals']['expected']:,} = sum of the provinces' {expected_total:,}"
                f" = seeded {seeded_country:,}; VN's totals = the direct count of every fact ({direct_ms:,.0f} ms)"
            )
            rows["checks"] = " · ".join(checks)

            cpu_after, window = cpu(), time.monotonic() - t_measure
            spent = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
            machine = spent.pop("machine")
            ours = sum(spent.values())
            rows["cpu"] = (
                f"measured window {window:.0f} s on {psutil.cpu_count()} cores: machine busy {machine:.0f} CPU-s,"
                f" of which this run {ours:.0f} ("
                + ", ".join(f"{k} {v:.0f}" for k, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v >= 0.5)
                + f"), other processes {max(0.0, machine - ours):.0f}"
            )

            # EXPLAIN of the count queries of the province roll-up and its children (current view, the
            # year), as the queries send them: caught on their way to the driver, then explained
            explain: dict[str, str] = {}
            sent_sql: list[tuple[str, Any]] = []

            def catch(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
                sent_sql.append((statement, parameters))

            for label, call in (
                ("province 52, year, totals", lambda s: q.totals(s, year_scope, today)),
                ("province 52, year, children", lambda s: q.children(s, year_scope, today)),
                ("VN, year, totals", lambda s: q.totals(s, replace(year_scope, unit=NATION), today)),
                (
                    "VN, year, outputs by channel",
                    lambda s: q.outputs(s, replace(year_scope, unit=NATION), by="channel"),
                ),
            ):
                async with sessions() as session:
                    event.listen(engine.sync_engine, "before_cursor_execute", catch)
                    try:
                        sent_sql.clear()
                        await call(session)
                    finally:
                        event.remove(engine.sync_engine, "before_cursor_execute", catch)
                    statement, parameters = next(sql for sql in sent_sql if "rollup_" in sql[0])
                    connection = await session.connection()
                    plan = await connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                    explain[label] = "\n".join(row[0] for row in plan)
            rows["explain"] = "\n\n".join(f"-- {label}\n{text}" for label, text in explain.items())
        finally:
            await db.close()
            await engine.dispose()
    rows["bus"] = await bus_row(nats_url, prefix)
    rows["results"] = "\n".join(f"  {name:<62} {text}" for name, text in results)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provinces", type=lambda s: s.split(","), default=None, help="codes, default all 34")
    parser.add_argument(
        "--communes-per-province", type=int, default=0, help="seed only the first N communes of each (0 = all)"
    )
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each query")
    parser.add_argument("--doc-runs", type=int, default=10, help="measured runs of each DOCX/XLSX")
    parser.add_argument("--country-runs", type=int, default=3, help="sweeps over all provinces")
    parser.add_argument("--warmup", type=int, default=2, help="runs before measuring")
    parser.add_argument("--load-runs", type=int, default=100, help="measured runs of each query while ingest runs")
    parser.add_argument("--ingest-rate", type=float, default=200, help="progress events a second while measuring")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the generated progress")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for each set-up step")
    args = parser.parse_args()
    with cchc_up({"CCHC_SWEEP_INTERVAL_SECONDS": "60"}, logs_on_error=("reports",)) as up:
        rows = asyncio.run(run(args, up.base_url, up.nats_url, up.db_url, up.prefix, lambda: up.cpu(machine=True)))
        rows["services"] = f"{up.services_row()}; wall time {time.monotonic() - up.started:.0f} s"
    explain = rows.pop("explain", "")
    results = rows.pop("results", "")
    print_rows(rows, 9)
    print(f"\nqueries through the gateway (after {args.warmup} warm-ups)\n{results}")
    print(f"\nEXPLAIN (ANALYZE, BUFFERS)\n{explain}")


if __name__ == "__main__":
    main()
