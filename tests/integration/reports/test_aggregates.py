"""The roll-ups read maintained aggregates (services/reports/aggregates.py); they must say what a
count of the facts says. A seeded, randomised history — assignments created, rescheduled,
cancelled and revived; reports, corrections arriving newer and older, done then not done, reports
before their assignment, the same event twice; plan amendments moving tasks between areas and
channels; units created late or never, merges within and across provinces — is applied through
the reports handlers (batches for the hot events, one by one for the others). Afterwards every
roll-up the API reads from the aggregates equals services/reports/direct.py's count of the facts,
for units at every level and the nation, periods, views, filters and days; and the stored rows
equal those `aggregates.recount` makes from the facts. Real PostgreSQL, as the reports role."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reports import aggregates, direct, handlers
from services.reports import queries as q
from services.reports.aggregates import NATION
from shared.bus import Subscription
from shared.db import make_engine, make_sessions, scoped, system_scope
from shared.events import (
    AssignmentCancelled,
    AssignmentCreated,
    Meta,
    PlanAmended,
    PlanIssued,
    PlanTask,
    ProductTarget,
    ProgressReported,
    TaskChanges,
    UnitCreated,
    UnitRef,
    UnitSucceeded,
    make_event,
)
from shared.periods import Period
from shared.settings import Settings
from shared.timelines import parse_timeline
from tests.integration.conftest import DatabaseRoles, System, head, officer
from tests.integration.plans_data import AREAS_PLAN

pytestmark = pytest.mark.integration

SUBSCRIPTIONS: dict[str, Subscription] = {s.event_type: s for s in handlers.subscriptions(Settings())}
START = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Unit:
    code: str
    level: str
    path: str

    @property
    def parent(self) -> str | None:
        parts = self.path.split(".")
        return parts[-2] if len(parts) > 1 else None

    def ref(self) -> UnitRef:
        return UnitRef(code=self.code, path=self.path, name=f"Đơn vị {self.code}")


UNITS = [
    Unit("52", "province", "52"),
    Unit("21787", "commune", "52.21787"),
    Unit("21790", "commune", "52.21790"),
    Unit("21796", "commune", "52.21796"),
    Unit("21787-VH", "body", "52.21787.21787-VH"),
    Unit("48", "province", "48"),
    Unit("20194", "commune", "48.20194"),
    Unit("20197", "commune", "48.20197"),
    Unit("21799", "commune", "52.21799"),  # never created: its facts count through their path
]
CREATED = [unit for unit in UNITS if unit.code != "21799"]
# merges of the history: within a province, across provinces (default successors)
MERGES = [("21790", "21787"), ("20197", "21796")]
PERIODS = ("2026-01", "2026-02", "2026-03", "2026-Q1", "2026-Q2", "2026-05", "2026-Q3", "2026-11", "2026-Q4")
KINDS = ("broadcast", "article", "social_post")
AREAS = ("procedures", "general", "digital_government", None)
CHANNELS = ("radio", "portal", "social", "press")


def event(event_type: str, payload: Any, unit_path: str, at: datetime, producer: str) -> tuple[Any, Meta]:
    envelope = make_event(event_type, unit_path=unit_path, producer=producer, payload=payload, at=at)
    return payload, Meta.of(envelope)


def plan_tasks(rng: random.Random, refs: tuple[str, ...]) -> list[PlanTask]:
    return [
        PlanTask(
            ref=ref,
            title=f"Nhiệm vụ {ref}",
            lead=[],
            schedule=parse_timeline("hằng quý"),
            products=[ProductTarget(kind=kind, target=1) for kind in KINDS],
            area=rng.choice(AREAS),
            channels=rng.sample(CHANNELS, rng.randint(0, 2)),
        )
        for ref in refs
    ]


def plans(rng: random.Random) -> tuple[list[tuple[Any, Meta]], dict[uuid.UUID, tuple[str, ...]]]:
    """Two plans, each issued then amended twice: the tasks' areas and channels change."""
    events: list[tuple[Any, Meta]] = []
    refs: dict[uuid.UUID, tuple[str, ...]] = {}
    for n, issuer in enumerate(("52", "48")):
        plan_id, unit = uuid.uuid4(), next(u for u in UNITS if u.code == issuer)
        refs[plan_id] = tuple(str(i) for i in range(1, 5))
        common = {"plan_id": plan_id, "number": f"{n + 1}/KH-UBND", "title": "Kế hoạch", "issuer": unit.ref()}
        issued = PlanIssued(**common, period="2026", tasks=plan_tasks(rng, refs[plan_id]))
        events.append(event("plan.issued", issued, unit.path, START, "plans"))
        for version in (2, 3):
            amended = PlanAmended(
                **common,
                period="2026",
                version=version,
                tasks=plan_tasks(rng, refs[plan_id][: 4 - version + 2]),  # v3 drops a task
                changes=TaskChanges(changed=list(refs[plan_id])),
            )
            events.append(event("plan.amended", amended, unit.path, START + timedelta(days=30 * version), "plans"))
    return events, refs


def history(rng: random.Random, n: int) -> list[tuple[Any, Meta]]:
    """Every event of the history, in no particular order but the plans' versions."""
    plan_events, refs = plans(rng)
    events: list[tuple[Any, Meta]] = []
    for unit in CREATED:
        born = UnitCreated(
            code=unit.code, name=f"Đơn vị {unit.code}", level=unit.level, parent=unit.parent, path=unit.path
        )
        events.append(event("unit.created", born, unit.path, START, "plans"))
    for old, new in MERGES:
        path = next(u.path for u in UNITS if u.code == old)
        events.append(event("unit.succeeded", UnitSucceeded(old=old, new=new), path, START, "plans"))
    reporting = [u for u in UNITS if u.level != "province"] + [UNITS[0]]
    for i in range(n):
        plan_id = rng.choice(list(refs))
        unit, period = rng.choice(reporting), Period.parse(rng.choice(PERIODS))
        created = AssignmentCreated(
            assignment_id=uuid.uuid4(),
            plan_id=plan_id,
            plan_number="1/KH-UBND",
            task_ref=rng.choice(refs[plan_id]),
            task_title=f"Nhiệm vụ {i}",
            unit=unit.ref(),
            role=rng.choice(("lead", "lead", "lead", "coordinating")),
            period=period.code,
            due=period.end + timedelta(days=rng.randint(-3, 10)),
        )
        at = START + timedelta(minutes=i)
        mine = [event("assignment.created", created, unit.path, at, "tasks")]
        if rng.random() < 0.3:  # rescheduled (the due date moves), maybe moved to another task
            moved = created.model_copy(update={"due": created.due + timedelta(days=rng.randint(-15, 15))})
            if rng.random() < 0.3:
                moved = moved.model_copy(update={"task_ref": rng.choice(refs[plan_id])})
            mine.append(event("assignment.updated", moved, unit.path, at + timedelta(hours=1), "tasks"))
        if rng.random() < 0.2:
            cancelled = AssignmentCancelled(
                assignment_id=created.assignment_id,
                plan_id=plan_id,
                unit=unit.ref(),
                period=period.code,
                reason="điều chỉnh kế hoạch",
            )
            mine.append(event("assignment.cancelled", cancelled, unit.path, at + timedelta(hours=2), "tasks"))
            if rng.random() < 0.5:  # revived by a later amendment
                revived = created.model_copy(update={"due": created.due + timedelta(days=5)})
                mine.append(event("assignment.created", revived, unit.path, at + timedelta(hours=3), "tasks"))
        since = None
        first = datetime.combine(created.due, datetime.min.time(), tzinfo=UTC) - timedelta(days=rng.randint(-8, 20))
        for k in range(rng.choice((0, 1, 1, 2, 3, 4))):
            reported_at = first + timedelta(days=3 * k, hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
            status = rng.choice(("done", "done", "in_progress", "cannot_do"))  # done, then not done again
            since = (since or reported_at) if status == "done" else None
            report = ProgressReported(
                report_id=uuid.uuid4(),
                assignment_id=created.assignment_id,
                plan_id=plan_id,
                unit=unit.ref(),
                period=period.code,
                due=created.due,
                status=status,
                outputs={kind: rng.randint(0, 9) for kind in rng.sample(KINDS, rng.randint(0, 3))},
                reported_at=reported_at,
                on_time=True,
                reason="Chưa bố trí được kinh phí" if status == "cannot_do" else "",
                done_at=since,
            )
            kind = "progress.corrected" if k else "progress.reported"
            mine.append(event(kind, report, unit.path, reported_at, "tasks"))
        events += mine + [e for e in mine if rng.random() < 0.1]  # the same event again
    rng.shuffle(events)  # newer and older reports, reports before their assignment, units late …
    # … but a plan's versions in order (a version further on waits for those between)
    return (
        plan_events[:2] + events[: len(events) // 2] + plan_events[2:4] + events[len(events) // 2 :] + plan_events[4:]
    )


async def apply(sessions: async_sessionmaker[AsyncSession], events: list[tuple[Any, Meta]], rng: random.Random) -> None:
    """As the consumers would: the hot events in fetched batches (split by type), the others one by one."""
    start = 0
    while start < len(events):
        size = rng.randint(1, 60)
        by_type: dict[str, list[tuple[Any, Meta]]] = {}
        for item in events[start : start + size]:
            by_type.setdefault(item[1].type, []).append(item)
        for event_type, batch in by_type.items():
            subscription = SUBSCRIPTIONS[event_type]
            with system_scope():
                if subscription.many is not None:
                    async with sessions() as session, session.begin():
                        await subscription.many(session, batch)
                else:
                    for payload, meta in batch:
                        async with sessions() as session, session.begin():
                            await subscription.handle(session, payload, meta)
        start += size


@pytest.fixture
async def sessions(database_url: str, database_roles: DatabaseRoles) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions as the reports service's run-time role (row-level security applies)."""
    engine = make_engine(database_roles.url("reports", database_url), pool_size=2)
    yield make_sessions(engine)
    await engine.dispose()


SCOPE_UNITS = (NATION, "52", "48", "21787", "21790", "21796", "21787-VH", "21799", "20197")
SCOPE_PERIODS = ("2026", "2026-Q1", "2026-Q2", "2026-03", "2026-H2")
DAYS = (date(2026, 1, 15), date(2026, 4, 10), date(2026, 8, 20), date(2027, 2, 1))


def filters(plan_id: uuid.UUID) -> list[dict[str, Any]]:
    return [{}, {"plan": plan_id}, {"area": "procedures"}, {"channel": "radio"}, {"kind": "broadcast"}]


async def differences(session: AsyncSession, scope: q.Scope, days: tuple[date, ...]) -> list[str]:
    """Where the roll-ups read from the aggregates differ from a count of the facts."""
    found = []

    def compare(what: str, got: Any, want: Any) -> None:
        if got != want:
            found.append(f"{what} {scope}: aggregates {got!r}, facts {want!r}")

    for by in ("", "area", "channel"):
        compare(
            f"outputs {by}", await q.outputs(session, scope, by=by), await direct.direct_outputs(session, scope, by=by)
        )  # type: ignore[arg-type]
    for today in days:
        direct_totals = await direct.direct_totals(session, scope, today)
        compare(f"totals {today}", await q.totals(session, scope, today), direct_totals)
        whole = direct_totals | {
            "by_level": await direct.direct_by_level(session, scope, today),
            "outputs": await direct.direct_outputs(session, scope),
            "outputs_by_area": await direct.direct_outputs(session, scope, by="area"),
            "outputs_by_channel": await direct.direct_outputs(session, scope, by="channel"),
        }
        compare(f"rollup {today}", await q.rollup(session, scope, today), whole)
        compare(
            f"by_level {today}",
            await q.by_level(session, scope, today),
            await direct.direct_by_level(session, scope, today),
        )
        compare(
            f"children {today}",
            await q.children(session, scope, today),
            await direct.direct_children(session, scope, today),
        )
        if scope.period.kind == "year":
            compare(
                f"by_quarter {today}",
                await q.by_quarter(session, scope, today),
                await direct.direct_by_quarter(session, scope, today),
            )
    return found


@pytest.mark.parametrize("seed", [18, 2026, 7])
async def test_after_a_randomised_history_the_aggregates_answer_what_a_count_of_the_facts_answers(
    sessions: async_sessionmaker[AsyncSession], seed: int
) -> None:
    rng = random.Random(seed)
    events = history(rng, 160)
    types = {meta.type for _, meta in events}
    assert {
        "progress.corrected",
        "assignment.cancelled",
        "assignment.updated",
        "unit.succeeded",
        "plan.amended",
    } <= types
    await apply(sessions, events, rng)

    with system_scope():
        async with sessions() as session:
            held = await aggregates.held(session)
            assert held == await aggregates.recounted(session)
            assert len(held[0]) > 100 and len(held[1]) > 100
            plan_id = next(payload.plan_id for payload, meta in events if meta.type == "plan.issued")
            problems: list[str] = []
            for unit in SCOPE_UNITS:
                for period in SCOPE_PERIODS:
                    for view in ("current", "as_reported"):
                        for narrowed in filters(plan_id) if unit in (NATION, "52") else [{}]:
                            scope = q.Scope(unit=unit, period=Period.parse(period), view=view, **narrowed)  # type: ignore[arg-type]
                            problems += await differences(session, scope, DAYS if not narrowed else DAYS[1:2])
            assert problems == []
            # restated: the merged communes' facts count for their successors today, not as reported
            year = Period.parse("2026")
            current = await q.totals(session, q.Scope(unit="21796", period=year), DAYS[0])
            then = await q.totals(session, q.Scope(unit="21796", period=year, view="as_reported"), DAYS[0])
            assert current["expected"] > then["expected"]
            nation = await q.totals(session, q.Scope(unit=NATION, period=year), DAYS[0])
            provinces = [
                await q.totals(session, q.Scope(unit=code, period=year, view="as_reported"), DAYS[0])
                for code in ("52", "48")
            ]
            assert nation["expected"] == sum(p["expected"] for p in provinces) > 0

    # A province's people read their province's rows only (row-level security on the aggregates).
    with scoped("52"):
        async with sessions() as session:
            scope = q.Scope(unit="52", period=Period.parse("2026"))
            assert await q.totals(session, scope, DAYS[1]) == await direct.direct_totals(session, scope, DAYS[1])
            elsewhere = await q.totals(session, replace(scope, unit="48"), DAYS[1])
            assert elsewhere["expected"] == 0
            assert (await q.totals(session, replace(scope, unit=NATION), DAYS[1]))["expected"] == 0


async def test_the_nation_is_read_by_a_national_caller_only_and_its_children_are_the_provinces(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52", "48"]})
    plan_id = (await system.post("/api/plans", json=AREAS_PLAN)).json()["id"]  # Gia Lai's, every commune leads
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200
    asked = {"unit": NATION, "period": "2026-Q1"}

    async def assigned() -> dict[str, Any] | None:
        body = (await system.get("/api/reports/rollup", params=asked)).json()
        province = (await system.get("/api/reports/rollup", params=asked | {"unit": "52"})).json()
        return body if body.get("expected") == province.get("expected") == 270 else None

    nation = await system.eventually(assigned)
    assert nation["unit_name"] == "Cả nước" and nation["by_level"]["commune"]["expected"] == 270
    children = (await system.get("/api/reports/children", params=asked)).json()
    assert {row["unit"] for row in children["items"]} == {"52", "48"}
    assert {row["unit"]: row["expected"] for row in children["items"]} == {"52": 270, "48": 0}
    trend = (await system.get("/api/reports/trend", params=asked)).json()
    assert [row["expected"] for row in trend["items"]] == [270] * 4  # a quarterly task all year

    refused = await system.as_(head("52")).get("/api/reports/rollup", params=asked)
    assert refused.status_code == 403 and "phạm vi toàn quốc" in refused.text, refused.text
    refused = await system.as_(officer("52.21787")).get("/api/reports/children", params=asked)
    assert refused.status_code == 403 and "đơn vị 21787" in refused.text, refused.text
    own = await system.as_(head("52")).get("/api/reports/rollup", params=asked | {"unit": "52"})
    assert own.status_code == 200 and own.json()["expected"] == 270
    assert (await system.get("/api/reports/rollup", params=asked | {"unit": "VNX"})).status_code == 404
