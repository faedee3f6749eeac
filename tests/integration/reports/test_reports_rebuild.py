"""The reports read model on a seeded province: 135 communes, two plans, four quarters, reports
with corrections, duplicated and shuffled events. Its numbers equal a count made here from the
events sent; after a rebuild from the streams they are the same again."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any

import nats
import pytest
from nats.js.errors import NotFoundError
from sqlalchemy import func, select

from services.reports import aggregates
from services.reports import models as reports_models
from services.reports.rebuild import ServiceRunning, rebuild
from shared.clock import VN
from shared.db import make_engine, system_scope
from shared.events import Envelope, ProgressReported, UnitRef, make_event, stream_name, subject
from shared.periods import Period
from tests.integration.conftest import TEST_NOW, System
from tests.integration.plans_data import AREAS_PLAN, QUARTERLY_PLAN

pytestmark = pytest.mark.integration
KINDS = ("broadcast", "article", "social_post", "participants")
TODAY = TEST_NOW.astimezone(VN).date()


def seed(assignments: list[Any], rng: random.Random) -> tuple[list[Envelope], dict[uuid.UUID, list[ProgressReported]]]:
    """Reports for about 60 % of the assignments, a third of them corrected once or twice."""
    sent: dict[uuid.UUID, list[ProgressReported]] = {}
    events = []
    for row in assignments:
        if rng.random() > 0.6:
            continue
        first = datetime.combine(row.due - timedelta(days=rng.randint(-12, 25)), time(9), tzinfo=VN)
        since = None  # as tasks sends it: done since the first "done" of the current run of them
        for n in range(rng.choice((1, 1, 2, 3))):
            at = first + timedelta(days=2 * n, minutes=rng.randint(0, 600))
            status = rng.choice(("done", "done", "in_progress", "cannot_do"))
            since = (since or at) if status == "done" else None
            report = ProgressReported(
                report_id=uuid.uuid4(),
                assignment_id=row.id,
                plan_id=row.plan_id,
                unit=UnitRef(code=row.unit_code, path=row.unit_path, level="commune"),
                period=row.period,
                due=row.due,
                status=status,
                outputs={k: rng.randint(0, 40) for k in rng.sample(KINDS, rng.randint(1, 3))},
                reported_at=at,
                on_time=at.astimezone(VN).date() <= row.due,
                reason="Chưa bố trí được kinh phí" if status == "cannot_do" else "",
                done_at=since,
            )
            sent.setdefault(row.id, []).append(report)
            kind = "progress.reported" if n == 0 else "progress.corrected"
            events.append(make_event(kind, unit_path=row.unit_path, producer="tasks", payload=report, at=at))
    return events, sent


def direct_count(rows: list[Any], sent: dict[uuid.UUID, list[ProgressReported]], period: Period) -> dict[str, Any]:
    """What the roll-up must say, counted from the reports sent (the newest report counts)."""
    states: Counter[str] = Counter({s: 0 for s in ("done_on_time", "done_late", "in_progress", "overdue", "not_due")})
    outputs: Counter[str] = Counter()
    expected = reported = on_time = 0
    for row in rows:
        if not (period.start <= row.period_start and row.period_end <= period.end):
            continue
        expected += 1
        reports = sent.get(row.id, [])
        newest = max(reports, key=lambda r: r.reported_at) if reports else None
        if reports:
            reported += 1
            on_time += min(r.reported_at for r in reports).astimezone(VN).date() <= row.due
            outputs.update(newest.outputs)  # type: ignore[union-attr]
        if newest is not None and newest.status == "done":
            # done since the first "done" of the newest unbroken run of them (as tasks counts it)
            since = newest.reported_at
            for r in sorted(reports, key=lambda r: r.reported_at, reverse=True)[1:]:
                if r.status != "done":
                    break
                since = r.reported_at
            states["done_on_time" if since.astimezone(VN).date() <= row.due else "done_late"] += 1
        elif row.due < TODAY:
            states["overdue"] += 1
        elif row.period_start <= TODAY:
            states["in_progress"] += 1
        else:
            states["not_due"] += 1
    return {
        "expected": expected,
        "reported": reported,
        "on_time": on_time,
        "states": dict(states),
        "outputs": dict(outputs),
    }


async def publish_all(system: System, envelopes: list[Envelope], rng: random.Random) -> int:
    """Shuffled; a tenth redelivered under a new message id, a twentieth re-emitted as new events."""
    client = await nats.connect(system.settings.nats_url)
    prefix, count = system.settings.nats_prefix, 0
    try:
        js = client.jetstream()
        copies = [*envelopes, *rng.sample(envelopes, len(envelopes) // 10)]
        copies += [e.model_copy(update={"id": uuid.uuid4()}) for e in rng.sample(envelopes, len(envelopes) // 20)]
        rng.shuffle(copies)
        for envelope in copies:
            await js.publish(
                subject(prefix, envelope.type, envelope.unit),
                envelope.model_dump_json().encode(),
                stream=stream_name(prefix, "progress"),
                headers={"Nats-Msg-Id": str(uuid.uuid4())},
            )
            count += 1
    finally:
        await client.close()
    return count


async def snapshot(system: System) -> dict[str, Any]:
    views = {}
    for period in ("2026", "2026-Q1", "2026-Q2", "2026-H2"):
        body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": period})).json()
        views[period] = {k: body[k] for k in ("expected", "reported", "on_time", "states", "outputs", "by_level")}
    children = (await system.get("/api/reports/children", params={"unit": "52", "period": "2026"})).json()
    views["children"] = sorted((r["unit"], r["expected"], r["reported"], r["on_time"]) for r in children["items"])
    return views


async def stored_aggregates(system: System) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """The roll-ups' aggregate rows, checked against a recount from the facts."""
    with system_scope():
        async with system.services["reports"].sessions() as session:
            held = await aggregates.held(session)
            assert held == await aggregates.recounted(session)
            return held


async def test_numbers_equal_a_direct_count_and_survive_a_rebuild_from_the_streams(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    for plan in (AREAS_PLAN, QUARTERLY_PLAN):  # three quarterly tasks for every commune
        plan_id = (await system.post("/api/plans", json=plan)).json()["id"]
        assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    async def assigned() -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026"})).json()
        return body.get("expected") == 135 * 3 * 4

    await system.eventually(assigned)
    a = reports_models.assignments
    with system_scope():  # every unit's assignments (row-level security)
        async with system.services["reports"].sessions() as session:
            rows = (await session.execute(select(a).order_by(a.c.id))).all()
    rng = random.Random(2026)
    envelopes, sent = seed(rows, rng)
    assert len(sent) > 900 and len(envelopes) > 1500
    published = await publish_all(system, envelopes, rng)
    assert published > len(envelopes)

    year = Period.parse("2026")
    expected = direct_count(rows, sent, year)

    async def counted() -> dict[str, Any] | None:
        body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026"})).json()
        return body if body["reported"] == expected["reported"] and body["outputs"] == expected["outputs"] else None

    await system.eventually(counted)
    await system.settled()  # corrections have their own consumer
    body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026"})).json()
    for key in ("expected", "reported", "on_time", "states"):
        assert body[key] == expected[key], key
    for code in ("2026-Q1", "2026-Q3", "2026-H1"):
        period = Period.parse(code)
        got = (await system.get("/api/reports/rollup", params={"unit": "52", "period": code})).json()
        want = direct_count(rows, sent, period)
        assert {k: got[k] for k in want} == want, code
    commune = rows[0].unit_code
    mine = [r for r in rows if r.unit_code == commune]
    got = (await system.get("/api/reports/rollup", params={"unit": commune, "period": "2026"})).json()
    assert {k: got[k] for k in ("expected", "reported", "on_time")} == {
        k: direct_count(mine, sent, year)[k] for k in ("expected", "reported", "on_time")
    }
    before = await snapshot(system)
    aggregated = await stored_aggregates(system)

    # Rebuild: the reports service stops, its read model and consumers are reset, it starts again.
    with pytest.raises(ServiceRunning):  # not under a running service
        await rebuild(system.settings, wait=1.0)
    await system.stop("reports")
    removed = await rebuild(system.settings)
    assert removed["assignments"] == 1620 and removed["progress"] == len(sent)
    engine = make_engine(system.settings.database_url or "", pool_size=1)  # the admin: reports is stopped
    try:
        async with engine.connect() as conn:
            for table in (
                reports_models.units,
                reports_models.assignments,
                reports_models.progress,
                reports_models.rollup_counts,
                reports_models.rollup_outputs,
            ):
                assert (await conn.execute(select(func.count()).select_from(table))).scalar_one() == 0
    finally:
        await engine.dispose()
    client = await nats.connect(system.settings.nats_url)
    try:
        with pytest.raises(NotFoundError):
            await client.jetstream().consumer_info(
                stream_name(system.settings.nats_prefix, "progress"), "reports-progress-reported"
            )
    finally:
        await client.close()
    await system.start("reports")

    async def rebuilt() -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026"})).json()
        return body.get("expected") == 1620 and body.get("reported") == expected["reported"]

    await system.eventually(rebuilt)
    await system.settled()  # every consumer (reported, corrected …) has caught up
    assert await snapshot(system) == before
    assert await stored_aggregates(system) == aggregated  # the same rows, filled again by the same handlers
