"""The reports consumer applies a fetched batch with set-based statements (one per event type and
round, shared/bus.py `attach` and services/reports/handlers.py): the read model it leaves is the
one the events leave applied one by one — reports with corrections, out of order, the same event
twice inside one batch, cancellations and revivals — and a poison event inside a batch is parked
alone while the others apply. Real PostgreSQL (and NATS for the consumer)."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import nats
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reports import aggregates, handlers
from services.reports import models as m
from shared.bus import Subscription
from shared.db import make_engine, make_sessions, system_scope
from shared.events import (
    AssignmentCancelled,
    AssignmentCreated,
    Envelope,
    Meta,
    ProgressReported,
    UnitRef,
    make_event,
    stream_name,
    subject,
)
from shared.settings import Settings
from tests.integration.conftest import DatabaseRoles, System, running
from tests.integration.steps import dead_letters, fetched_batches

pytestmark = pytest.mark.integration

Payload = AssignmentCreated | AssignmentCancelled | ProgressReported
Applied = tuple[Payload, Meta]
UNITS = ("21787", "21790", "21796")
PERIODS = ("2026-01", "2026-Q1", "2026-02")
START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def event(event_type: str, payload: Payload, at: datetime) -> Applied:
    envelope = make_event(event_type, unit_path=payload.unit.path, producer="tasks", payload=payload, at=at)
    return payload, Meta.of(envelope)


def replayed(item: Applied) -> Applied:
    """The same event published again under a new id (past JetStream's de-dup window and the inbox)."""
    payload, meta = item
    return payload, dataclasses.replace(meta, id=uuid.uuid4())


def history(rng: random.Random, plan_id: uuid.UUID, n: int) -> list[Applied]:
    """Each assignment's life as tasks publishes it, in order: created, maybe reworded or
    rescheduled, maybe cancelled by an amendment and created again (revived), and reports with
    their corrections (distinct reported_at: the newest counts); a fifth of the events replayed."""
    events: list[Applied] = []
    for i in range(n):
        code = rng.choice(UNITS)
        unit = UnitRef(code=code, path=f"52.{code}", name=f"Xã {code}")
        period = rng.choice(PERIODS)
        created = AssignmentCreated(
            assignment_id=uuid.uuid4(),
            plan_id=plan_id,
            plan_number="7/KH-UBND",
            task_ref=str(i % 5 + 1),
            task_title=f"Tin bài số {i}",
            unit=unit,
            role=rng.choice(("lead", "coordinating")),
            period=period,
            due=date(2026, 3, 20),
        )
        at = START + timedelta(minutes=i)
        mine = [event("assignment.created", created, at)]
        if rng.random() < 0.4:
            changed = created.model_copy(update={"task_title": f"Tin, bài số {i}", "due": date(2026, 3, 10)})
            mine.append(event("assignment.updated", changed, at + timedelta(hours=1)))
        if rng.random() < 0.3:
            cancelled = AssignmentCancelled(
                assignment_id=created.assignment_id, plan_id=plan_id, unit=unit, period=period, reason="sửa kế hoạch"
            )
            mine.append(event("assignment.cancelled", cancelled, at + timedelta(hours=2)))
            if rng.random() < 0.5:
                revived = created.model_copy(update={"plan_number": "8/KH-UBND", "due": date(2026, 3, 25)})
                mine.append(event("assignment.created", revived, at + timedelta(hours=3)))
        since = None
        for n_report in range(rng.choice((0, 1, 2, 3, 4, 5))):
            reported_at = at + timedelta(days=n_report + 1, seconds=rng.randint(0, 3600))
            status = rng.choice(("done", "done", "in_progress", "cannot_do"))
            since = (since or reported_at) if status == "done" else None
            report = ProgressReported(
                report_id=uuid.uuid4(),
                assignment_id=created.assignment_id,
                plan_id=plan_id,
                unit=unit,
                period=period,
                due=created.due,
                status=status,
                outputs={"article": rng.randint(0, 9), "broadcast": rng.randint(0, 9)},
                reported_at=reported_at,
                on_time=True,
                reason="Chưa bố trí được kinh phí" if status == "cannot_do" else "",
                note=f"lần {n_report + 1}",
                done_at=since,
            )
            # a later report is mostly a correction; the handlers take both types alike
            kind = "progress.corrected" if n_report and rng.random() < 0.6 else "progress.reported"
            mine.append(event(kind, report, reported_at))
        events += mine + [replayed(e) for e in mine if rng.random() < 0.2]
    return events


def batches(sequence: list[Applied], rng: random.Random) -> list[tuple[str, list[Applied]]]:
    return fetched_batches(sequence, rng, largest=150)


@pytest.fixture
async def sessions(database_url: str, database_roles: DatabaseRoles) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions as the reports service's run-time role (row-level security applies)."""
    engine = make_engine(database_roles.url("reports", database_url), pool_size=2)
    yield make_sessions(engine)
    await engine.dispose()


SUBSCRIPTIONS: dict[str, Subscription] = {s.event_type: s for s in handlers.subscriptions(Settings())}


async def read_model(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """Every row of the tables these events feed (the roll-ups' aggregates too, which must be
    what a recount from the facts gives); then emptied for the next way of applying them."""
    with system_scope():
        async with sessions() as session, session.begin():
            found = {
                "assignments": [tuple(r) for r in (await session.execute(select(m.assignments).order_by("id"))).all()],
                "progress": [tuple(r) for r in (await session.execute(select(m.progress).order_by("assignment_id")))],
                "aggregates": await aggregates.held(session),
            }
            assert found["aggregates"] == await aggregates.recounted(session)
            for table in (m.progress, m.assignments, m.rollup_counts, m.rollup_outputs):
                await session.execute(delete(table))
    return found


async def one_by_one(sessions: async_sessionmaker[AsyncSession], sequence: list[Applied]) -> dict[str, list[Any]]:
    for payload, meta in sequence:
        with system_scope():
            async with sessions() as session, session.begin():
                await SUBSCRIPTIONS[meta.type].handle(session, payload, meta)
    return await read_model(sessions)


async def batched(
    sessions: async_sessionmaker[AsyncSession], schedule: list[tuple[str, list[Applied]]]
) -> dict[str, list[Any]]:
    for event_type, batch in schedule:
        many = SUBSCRIPTIONS[event_type].many
        assert many is not None, f"{event_type} has no batch handler"
        with system_scope():
            async with sessions() as session, session.begin():
                await many(session, batch)
    return await read_model(sessions)


async def test_a_shuffled_history_applied_in_batches_leaves_the_rows_it_leaves_applied_one_by_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    rng = random.Random(18)
    sequence = history(rng, uuid.uuid4(), 120)
    rng.shuffle(sequence)
    schedule = batches(sequence, rng)
    # inside one batch: the same event twice, and reports of one assignment that the batch reduces
    assert any(len({e.assignment_id for e, _ in batch}) < len(batch) for _, batch in schedule)
    assert any(
        len({e.assignment_id for e, _ in batch}) < len({(e.assignment_id, e.reported_at) for e, _ in batch})
        for _, batch in schedule
        if isinstance(batch[0][0], ProgressReported)
    )
    types = {meta.type for _, meta in sequence}
    assert types == {t for t in SUBSCRIPTIONS if t.startswith(("assignment.", "progress."))}

    in_batches = await batched(sessions, schedule)
    in_turn = await one_by_one(sessions, [item for _, batch in schedule for item in batch])
    assert in_batches == in_turn
    cancelled = [row for row in in_batches["assignments"] if row[m.assignments.c.keys().index("cancelled")]]
    assert 0 < len(cancelled) < len(in_batches["assignments"])  # cancellations, and revivals too
    assert len(in_batches["progress"]) > 40

    # the newest report counts whatever the order: another order, other batches, the same progress
    rng.shuffle(sequence)
    again = await batched(sessions, batches(sequence, rng))
    assert again["progress"] == in_turn["progress"]


async def publish(system: System, envelopes: list[Envelope]) -> None:
    """As tasks' relay would, each under a message id of its own (a copy is past the de-dup window)."""
    client = await nats.connect(system.settings.nats_url)
    try:
        js, prefix = client.jetstream(), system.settings.nats_prefix
        for envelope in envelopes:
            await js.publish(
                subject(prefix, envelope.type, envelope.unit),
                envelope.model_dump_json().encode(),
                stream=stream_name(prefix, envelope.type.split(".", 1)[0]),
                headers={"Nats-Msg-Id": str(uuid.uuid4())},
            )
    finally:
        await client.close()


def report(note: str = "", *, at: datetime = START) -> Envelope:
    unit = UnitRef(code="21787", path="52.21787", name="Xã Vĩnh Sơn")
    payload = ProgressReported(
        report_id=uuid.uuid4(),
        assignment_id=uuid.uuid4(),
        plan_id=uuid.uuid4(),
        unit=unit,
        period="2026-Q1",
        due=date(2026, 3, 15),
        status="done",
        outputs={"article": 1},
        reported_at=at,
        on_time=True,
        note=note,
        done_at=at,
    )
    return make_event("progress.reported", unit_path=unit.path, producer="tasks", payload=payload, at=at)


async def progress_rows(system: System) -> dict[uuid.UUID, str]:
    p = m.progress
    with system_scope():
        async with system.services["reports"].sessions() as session:
            return dict((await session.execute(select(p.c.assignment_id, p.c.note))).all())  # type: ignore[arg-type]


def notes(reports: list[Envelope]) -> dict[uuid.UUID, str]:
    return {uuid.UUID(e.payload["assignment_id"]): e.payload["note"] for e in reports}


async def handled_together(system: System, ids: list[uuid.UUID]) -> int:
    """How many transactions claimed these events in the inbox (handled_at is the transaction's)."""
    i = m.inbox
    with system_scope():
        async with system.services["reports"].sessions() as session:
            query = select(func.count(func.distinct(i.c.handled_at))).where(i.c.event_id.in_(ids))
            return int((await session.execute(query)).scalar_one())


async def test_a_batch_applies_in_one_transaction_and_the_same_event_twice_in_it_once(
    settings: Settings, database_roles: DatabaseRoles
) -> None:
    async with running(settings, database_roles, "reports") as system:
        await system.stop("reports")  # what is published meanwhile waits: the next start fetches it in one batch
        reports = [report(f"báo cáo {n}") for n in range(30)]
        await publish(system, [*reports, *reports[:5]])
        await system.start("reports")
        await system.settled()
        assert await progress_rows(system) == {
            uuid.UUID(e.payload["assignment_id"]): e.payload["note"] for e in reports
        }
        assert await handled_together(system, [e.id for e in reports]) == 1
        assert await dead_letters(system) == []


async def test_a_poison_event_inside_a_batch_is_parked_alone_and_the_others_apply(
    settings: Settings, database_roles: DatabaseRoles
) -> None:
    async with running(settings, database_roles, "reports") as system:
        await system.stop("reports")
        good = [report(f"báo cáo {n}") for n in range(30)]
        poison = report("ghi chú có ký tự \x00")  # PostgreSQL stores no NUL in text: the statement fails
        await publish(system, [*good[:15], poison, *good[15:]])
        await system.start("reports")

        async def parked() -> list[Any]:
            return [letter for letter in await dead_letters(system) if b"\\u0000" in letter.data]

        letters = await system.eventually(parked)
        await system.settled()
        assert len(letters) == 1 and len(await dead_letters(system)) == 1
        assert letters[0].headers["Cchc-Deliveries"] == str(settings.max_deliver)
        assert await progress_rows(system) == notes(good)
        # the batch failed as a whole: each of the others was then applied in a transaction of its own
        assert await handled_together(system, [e.id for e in good]) == len(good)


async def test_stopping_the_batched_consumer_mid_stream_leaves_nothing_unacked_and_loses_nothing(
    settings: Settings, database_roles: DatabaseRoles
) -> None:
    """One batch is handled while the next is fetched: a stop lets the one under way commit and
    ack, and returns the fetched one (nak: redelivered at once). With ack_wait at ten minutes, a
    message left unacked would not come back within the test, which would not settle."""
    async with running(settings, database_roles, "reports", ack_wait_seconds=600) as system:
        await system.stop("reports")
        reports = [report(f"báo cáo {n}", at=START + timedelta(seconds=n)) for n in range(3000)]
        await publish(system, reports)
        await system.start("reports")
        await system.eventually(lambda: progress_rows(system))  # under way
        await system.stop("reports")
        await system.start("reports")
        await system.settled()
        assert await progress_rows(system) == notes(reports)
