"""The notify consumer applies a fetched batch of its hot events (assignments, due-soon and overdue
occurrences) set-based (services/notify/handlers.py, shared/bus.py `attach`): the notifications,
deliveries, escalations and known units it leaves are the ones the events leave applied one by one
— under unit and plan rules, digests, contacts placed elsewhere or in quiet hours, replays inside a
batch, settled occurrences —; through the bus, a batch with duplicates gives each contact one
notice, and a poison event inside a batch is parked alone while the others go out. Real PostgreSQL
(and NATS, and an SMTP server, for the consumer)."""

from __future__ import annotations

import dataclasses
import itertools
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import nats
import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notify import handlers
from services.notify import models as m
from shared.bus import Subscription
from shared.clock import VN
from shared.db import make_engine, make_sessions, system_scope
from shared.events import (
    AssignmentCancelled,
    AssignmentCreated,
    Envelope,
    Meta,
    OccurrenceDueSoon,
    OccurrenceOverdue,
    ProgressReported,
    UnitRef,
    make_event,
    stream_name,
    subject,
)
from shared.settings import Settings
from tests.integration.conftest import DatabaseRoles, System, running
from tests.integration.notify.peers import Mailbox, configure
from tests.integration.steps import dead_letters, fetched_batches

pytestmark = pytest.mark.integration

Payload = AssignmentCreated | AssignmentCancelled | OccurrenceDueSoon | OccurrenceOverdue | ProgressReported
Applied = tuple[Payload, Meta]
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
PLAN = uuid.UUID("5a1e0000-0000-4000-8000-000000000018")
OTHER_PLAN = uuid.UUID("5a1e0000-0000-4000-8000-000000000019")
# communes of two provinces; 21796 is merged into province 54 halfway (its code gets a new path)
UNITS = (
    UnitRef(code="21787", path="52.21787", name="Xã Vĩnh Sơn", level="commune"),
    UnitRef(code="21790", path="52.21790", name="Xã Vĩnh Thịnh", level="commune"),
    UnitRef(code="21796", path="52.21796", name="Xã Vĩnh Hòa", level="commune"),
    UnitRef(code="21799", path="52.21799", name="Xã Vĩnh Hiệp", level="commune"),
    UnitRef(code="22000", path="54.22000", name="Xã Ea Kiết", level="commune"),
    UnitRef(code="54", path="54", name="Tỉnh Đắk Lắk", level="province"),
)
MOVED = UnitRef(code="21796", path="54.21796", name="Xã Vĩnh Hòa", level="commune")
# the first assignments: each commune, plan and role once
EVERY_CASE = list(itertools.product(UNITS[:5], (PLAN, OTHER_PLAN), ("lead", "coordinating")))


def event(event_type: str, payload: Payload, at: datetime) -> Applied:
    envelope = make_event(event_type, unit_path=payload.unit.path, producer="tasks", payload=payload, at=at)
    return payload, Meta.of(envelope)


def replayed(item: Applied) -> Applied:
    """The same event published again under a new id (past JetStream's de-dup window and the inbox)."""
    payload, meta = item
    return payload, dataclasses.replace(meta, id=uuid.uuid4())


def history(rng: random.Random, n: int) -> list[Applied]:
    """Assignments of two plans as tasks publishes them: created, sometimes rescheduled, reminded 7
    and 1 days ahead, overdue (a lead's: escalated unless settled); a fifth of them replayed."""
    events: list[Applied] = []
    for i in range(n):
        unit = rng.choice(UNITS) if i < n // 2 else rng.choice([*UNITS[:2], MOVED, *UNITS[3:]])
        plan, role = rng.choice((PLAN, PLAN, OTHER_PLAN)), rng.choice(("lead", "lead", "coordinating"))
        if i < len(EVERY_CASE):
            unit, plan, role = EVERY_CASE[i]
        created = AssignmentCreated(
            assignment_id=uuid.uuid4(),
            plan_id=plan,
            plan_number="18/KH-UBND",
            task_ref=str(i % 7 + 1),
            task_title=f"Tuyên truyền cải cách hành chính, đợt {i}",
            unit=unit,
            role=role,
            period="2026-Q1",
            due=date(2026, 3, 20),
        )
        at = START + timedelta(minutes=i)
        mine = [event("assignment.created", created, at)]
        if rng.random() < 0.3:
            created = created.model_copy(update={"task_title": f"Tuyên truyền CCHC, đợt {i}", "due": date(2026, 3, 25)})
            mine.append(event("assignment.updated", created, at + timedelta(hours=1)))
        common = created.model_dump(include={"assignment_id", "plan_id", "plan_number", "task_ref", "task_title"})
        common |= {"unit": created.unit, "role": created.role, "period": created.period, "due": created.due}
        for lead_days in (7, 1):
            if rng.random() < 0.8:
                reminder = OccurrenceDueSoon(**common, lead_days=lead_days, days_left=lead_days)
                mine.append(event("occurrence.due_soon", reminder, at + timedelta(days=10 - lead_days)))
        if i < len(EVERY_CASE) or rng.random() < 0.6:
            mine.append(event("occurrence.overdue", OccurrenceOverdue(**common), at + timedelta(days=20)))
        # then, reported (done settles the escalation) or cancelled by an amendment
        for status in rng.sample(("done", "in_progress", "cannot_do"), rng.randint(0, 2)):
            report = ProgressReported(
                report_id=uuid.uuid4(),
                **created.model_dump(include={"assignment_id", "plan_id", "unit", "period", "due"}),
                status=status,
                outputs={},
                reported_at=at + timedelta(days=21),
                on_time=False,
                reason="Chưa bố trí được kinh phí" if status == "cannot_do" else "",
            )
            mine.append(event(rng.choice(("progress.reported", "progress.corrected")), report, at + timedelta(days=21)))
        if rng.random() < 0.15:
            gone = AssignmentCancelled(
                **created.model_dump(include={"assignment_id", "plan_id", "unit", "period"}), reason="sửa kế hoạch"
            )
            mine.append(event("assignment.cancelled", gone, at + timedelta(days=22)))
        events += mine + [replayed(e) for e in mine if rng.random() < 0.2]
    return events


def settled_later() -> list[tuple[str, list[Applied]]]:
    """Three overdue occurrences of a commune whose province escalates, in a batch of their own:
    one reported done later, one cancelled later, one left waiting."""
    unit = UNITS[4]
    overdue = [
        OccurrenceOverdue(
            assignment_id=uuid.uuid4(),
            plan_id=PLAN,
            task_ref=f"9.{i}",
            task_title=f"Rà soát thủ tục hành chính, phần {i}",
            unit=unit,
            period="2026-Q1",
            due=date(2026, 3, 20),
        )
        for i in range(3)
    ]
    at = START + timedelta(days=30)
    done = ProgressReported(
        report_id=uuid.uuid4(),
        **overdue[0].model_dump(include={"assignment_id", "plan_id", "unit", "period", "due"}),
        status="done",
        outputs={},
        reported_at=at,
        on_time=False,
    )
    gone = AssignmentCancelled(
        **overdue[1].model_dump(include={"assignment_id", "plan_id", "unit", "period"}), reason="sửa kế hoạch"
    )
    return [
        ("occurrence.overdue", [event("occurrence.overdue", o, at) for o in overdue]),
        ("progress.reported", [event("progress.reported", done, at + timedelta(days=1))]),
        ("assignment.cancelled", [event("assignment.cancelled", gone, at + timedelta(days=1))]),
    ]


def batches(sequence: list[Applied], rng: random.Random) -> list[tuple[str, list[Applied]]]:
    return fetched_batches(sequence, rng, largest=60)


@pytest.fixture
def notify_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"smtp_host": "127.0.0.1"})  # email is a usable channel


@pytest.fixture
async def sessions(database_url: str, database_roles: DatabaseRoles) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions as the notify service's run-time role (row-level security applies)."""
    engine = make_engine(database_roles.url("notify", database_url), pool_size=2)
    yield make_sessions(engine)
    await engine.dispose()


def quiet_now() -> tuple[time, time]:
    """Quiet hours around the present moment (Vietnam time): a delivery made now waits for their end."""
    now = datetime.now(VN)
    return (now - timedelta(hours=1)).time().replace(microsecond=0), (now + timedelta(hours=1)).time().replace(
        microsecond=0
    )


async def seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Rules of units and plans, contacts of all kinds, and some occurrences done before they are overdue."""
    quiet_start, quiet_end = quiet_now()

    def contact(code: str, **fields: Any) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "unit_code": code,
            "unit_path": None,
            "name": f"Văn phòng {code}",
            "email": f"vanphong.{code}@example.gov.vn",
            "webhook_url": None,
            "channels": ["email"],
            "quiet_start": None,
            "quiet_end": None,
            "active": True,
        } | fields  # every row with every column: an executemany takes the first row's

    contacts = [
        contact("21787"),
        contact("21787", unit_path="52.21787", name="Chủ tịch UBND xã"),
        contact("21787", unit_path="54.99999"),  # placed elsewhere: hears nothing of this one
        contact("21790", webhook_url="http://127.0.0.1:9/hook", channels=["webhook", "email"]),
        contact("21796", active=False),
        contact("21796", quiet_start=quiet_start, quiet_end=quiet_end),
        contact("22000", email=None),  # no usable channel: in-app only
        contact("54"),
        contact("52"),
    ]
    rules = [
        {"scope": "unit", "key": "21790", "settings": {"due_soon_days": [1]}, "owner_path": "52.21790"},  # not 7 days
        {"scope": "unit", "key": "21799", "settings": {"digest": True}, "owner_path": "52.21799"},
        {"scope": "unit", "key": "52", "settings": {"escalate": False}, "owner_path": "52"},
        {"scope": "unit", "key": "54", "settings": {"escalate_after_days": 5}, "owner_path": "54"},
        # a plan's rule reaches only the subtree of the unit that set it
        {"scope": "plan", "key": str(PLAN), "settings": {"coordinating": False}, "owner_path": "52.21787"},
        {"scope": "plan", "key": str(OTHER_PLAN), "settings": {"overdue": False}, "owner_path": "54"},
    ]
    with system_scope():
        async with sessions() as session, session.begin():
            await session.execute(insert(m.contacts), contacts)
            await session.execute(insert(m.rules), rules)


def done_before(events: list[Applied]) -> list[dict[str, Any]]:
    """Some occurrences reported done before their overdue event arrives (the streams are not
    ordered with each other): no escalation for them."""
    overdue = [e for e, meta in events if meta.type == "occurrence.overdue"]
    settled = {
        e.assignment_id: {"assignment_id": e.assignment_id, "due": e.due, "reason": "done"} for e in overdue[::4]
    }
    return list(settled.values())


async def settled_first(sessions: async_sessionmaker[AsyncSession], rows: list[dict[str, Any]]) -> None:
    with system_scope():
        async with sessions() as session, session.begin():
            await session.execute(insert(m.settled), rows)


def subscriptions(settings: Settings) -> dict[str, Subscription]:
    return {s.event_type: s for s in handlers.subscriptions(settings)}


def without(row: Any, *columns: str) -> dict[str, Any]:
    return {name: value for name, value in row._mapping.items() if name not in columns}


async def effects(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[Any]]:
    """What the events left (ids and times of the transaction aside: the notifications by their
    dedup key), then emptied for the next way of applying them."""
    n, d, e, s = m.notifications, m.deliveries, m.escalations, m.settled
    with system_scope():
        async with sessions() as session, session.begin():
            notes = (await session.execute(select(n).order_by(n.c.dedup_key))).all()
            key = {row.id: row.dedup_key for row in notes}
            deliveries = (await session.execute(select(d).order_by(d.c.idempotency_key))).all()
            found: dict[str, list[Any]] = {
                "notifications": [without(row, "id", "created_at") for row in notes],
                "deliveries": [
                    without(row, "id", "created_at", "next_attempt_at", "notification_id")
                    | {"notice": key[row.notification_id], "held": row.next_attempt_at > row.created_at}
                    for row in deliveries
                ],
                "escalations": [
                    without(row, "created_at")
                    for row in (await session.execute(select(e).order_by(e.c.assignment_id, e.c.due))).all()
                ],
                "units": [tuple(row) for row in (await session.execute(select(m.units).order_by(m.units.c.code)))],
                "settled": [
                    without(row, "at")
                    for row in (await session.execute(select(s).order_by(s.c.assignment_id, s.c.due))).all()
                ],
            }
            for table in (d, n, e, m.units, s):
                await session.execute(delete(table))
    return found


async def one_by_one(
    sessions: async_sessionmaker[AsyncSession],
    subs: dict[str, Subscription],
    sequence: list[Applied],
    settled: list[dict[str, Any]],
) -> dict[str, list[Any]]:
    await settled_first(sessions, settled)
    for payload, meta in sequence:
        with system_scope():
            async with sessions() as session, session.begin():
                await subs[meta.type].handle(session, payload, meta)
    return await effects(sessions)


async def batched(
    sessions: async_sessionmaker[AsyncSession],
    subs: dict[str, Subscription],
    schedule: list[tuple[str, list[Applied]]],
    settled: list[dict[str, Any]],
) -> dict[str, list[Any]]:
    await settled_first(sessions, settled)
    for event_type, batch in schedule:
        many = subs[event_type].many
        assert many is not None, f"{event_type} has no batch handler"
        with system_scope():
            async with sessions() as session, session.begin():
                await many(session, batch)
    return await effects(sessions)


async def test_a_batch_of_assignments_reminders_and_overdue_notices_leaves_what_they_leave_one_by_one(
    sessions: async_sessionmaker[AsyncSession], notify_settings: Settings
) -> None:
    rng = random.Random(18)
    sequence = history(rng, 120)
    rng.shuffle(sequence)  # the streams are not ordered with each other: reports before the overdue notice
    early = done_before(sequence)
    await seed(sessions)
    subs = subscriptions(notify_settings)
    later = settled_later()
    schedule = batches(sequence, rng) + later
    # inside one batch: the same occurrence twice (a replay), and one unit's notices side by side
    assert any(len({e.assignment_id for e, _ in batch}) < len(batch) for _, batch in schedule)
    assert {t for t, _ in schedule} == {s.event_type for s in subs.values() if not s.event_type.startswith("report.")}

    in_batches = await batched(sessions, subs, schedule, early)
    in_turn = await one_by_one(sessions, subs, [item for _, batch in schedule for item in batch], early)
    assert in_batches == in_turn

    # and the rules were at work, not all silent nor all loud
    notes, deliveries = in_turn["notifications"], in_turn["deliveries"]
    kinds = Counter(row["kind"] for row in notes)
    assert set(kinds) == {"assigned", "changed", "due_soon", "overdue"}, kinds
    assert {row["unit_code"] for row in notes if row["in_digest"]} == {"21799"}
    assert not any(
        row["kind"] == "due_soon" and row["unit_code"] == "21790" and ":7:" in row["dedup_key"] for row in notes
    )
    assert Counter(row["channel"] for row in deliveries).keys() == {"email", "webhook"}
    assert {row["held"] for row in deliveries} == {True, False}  # quiet hours of a 21796 contact
    assert {row["parent_code"] for row in in_turn["escalations"]} == {"54"}  # province 52 escalates nothing
    # escalations waiting, and resolved by a done report or a cancellation, whichever came first
    assert {row["status"] for row in in_turn["escalations"]} == {"pending", "resolved"}
    assert {row["reason"] for row in in_turn["settled"]} == {"done", "cancelled"}
    last = {row["assignment_id"]: (row["status"], row["resolution"]) for row in in_turn["escalations"]}
    assert [last[e.assignment_id] for e, _ in later[0][1]] == [
        ("resolved", "done"),
        ("resolved", "cancelled"),
        ("pending", ""),
    ]
    assert "21796" in dict(in_turn["units"])  # known where the last notice stored placed it

    # a plan's rule reaches the subtree of the unit that set it, not its siblings
    told = {(row["kind"], row["subject_id"]) for row in notes}

    def heard(kind: str, plan: uuid.UUID, role: str, province: str, unit: str | None = None) -> set[bool]:
        return {
            (kind, e.assignment_id) in told
            for e, meta in sequence
            if meta.type == "assignment.created"
            and (e.plan_id, e.role, e.unit.path.split(".")[0]) == (plan, role, province)
            and unit in (None, e.unit.code)
            and (kind != "overdue" or any(o.assignment_id == e.assignment_id for o, _ in overdue))
        }

    overdue = [item for item in sequence if item[1].type == "occurrence.overdue"]
    assert heard("assigned", PLAN, "coordinating", "52", "21787") == {False}
    assert heard("assigned", PLAN, "coordinating", "52", "21790") == {True}
    assert heard("overdue", OTHER_PLAN, "lead", "54") == {False}
    assert heard("overdue", OTHER_PLAN, "lead", "52") == {True}


# --- through the bus ------------------------------------------------------------------------


def reminder(unit: UnitRef, *, title: str = "Báo cáo kết quả tuyên truyền cải cách hành chính") -> Envelope:
    payload = OccurrenceDueSoon(
        assignment_id=uuid.uuid4(),
        plan_id=PLAN,
        plan_number="18/KH-UBND",
        task_ref="1",
        task_title=title,
        unit=unit,
        period="2026-Q1",
        due=date(2026, 3, 20),
        lead_days=7,
        days_left=7,
    )
    return make_event("occurrence.due_soon", unit_path=unit.path, producer="tasks", payload=payload, at=START)


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


def communes(count: int, province: str) -> list[UnitRef]:
    return [
        UnitRef(code=f"{province}{i:03d}", path=f"{province}.{province}{i:03d}", name=f"Xã số {i}", level="commune")
        for i in range(count)
    ]


async def with_contacts(system: System, units: list[UnitRef]) -> None:
    for unit in units:
        reply = await system.post(
            "/api/notifications/contacts",
            json={"unit": unit.path, "name": f"Văn phòng {unit.name}", "email": email(unit), "channels": ["email"]},
        )
        assert reply.status_code == 201, reply.text


def email(unit: UnitRef) -> str:
    return f"vanphong.x{unit.code}@example.gov.vn"


async def stored(system: System) -> dict[str, Any]:
    n, d = m.notifications, m.deliveries
    with system_scope():
        async with system.services["notify"].sessions() as session:
            notes = Counter((await session.execute(select(n.c.unit_code).where(n.c.kind == "due_soon"))).scalars())
            sent = Counter(
                (
                    await session.execute(
                        select(n.c.unit_code).join(d, d.c.notification_id == n.c.id).where(d.c.status == "sent")
                    )
                ).scalars()
            )
            return {
                "notifications": notes,
                "sent": sent,
                "deliveries": await session.scalar(select(func.count(d.c.id))),
            }


async def handled_together(system: System, ids: list[uuid.UUID]) -> int:
    """How many transactions claimed these events in the inbox (handled_at is the transaction's)."""
    i = m.inbox
    with system_scope():
        async with system.services["notify"].sessions() as session:
            query = select(func.count(func.distinct(i.c.handled_at))).where(i.c.event_id.in_(ids))
            return int((await session.execute(query)).scalar_one())


async def test_a_batch_of_reminders_with_duplicates_and_a_poison_one_tells_each_contact_once(
    settings: Settings, database_roles: DatabaseRoles, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    async with running(settings, database_roles, "notify") as system:
        await configure(system, port)
        first, second = communes(40, "52"), communes(30, "54")
        await with_contacts(system, [*first, *second])

        # what is published while notify is stopped waits: the next start fetches it in one batch
        await system.stop("notify")
        reminders = [reminder(unit) for unit in first]
        # the same message twice (the inbox drops it) and the same reminder under a new event id
        # (a replay past the inbox: the notification's dedup key drops it)
        again = [e.model_copy(update={"id": uuid.uuid4()}) for e in reminders[:5]]
        await publish(system, [*reminders, *reminders[:10], *again])
        await system.start("notify")
        await system.settled()
        assert await handled_together(system, [e.id for e in reminders]) == 1

        # a reminder PostgreSQL cannot store (a NUL in its title) inside the next batch
        await system.stop("notify")
        good = [reminder(unit) for unit in second[1:]]
        poison = reminder(second[0], title="Báo cáo có ký tự \x00")
        await publish(system, [*good[:15], poison, *good[15:], *good[:3]])
        await system.start("notify")

        async def parked() -> list[Any]:
            return [letter for letter in await dead_letters(system) if b"\\u0000" in letter.data]

        letters = await system.eventually(parked)
        await system.settled()
        assert len(letters) == 1 and len(await dead_letters(system)) == 1
        assert letters[0].headers["Cchc-Deliveries"] == str(settings.max_deliver)
        # the batch failed as a whole: each of the others was then handled in a transaction of its own
        assert await handled_together(system, [e.id for e in good]) == len(good)

        everyone = [*first, *second[1:]]
        found = await stored(system)
        assert found["notifications"] == dict.fromkeys((u.code for u in everyone), 1)
        assert found["sent"] == found["notifications"] and found["deliveries"] == len(everyone)
        mails = Counter(str(message["To"].addresses[0].addr_spec) for message in box.messages)
        assert mails == {email(unit): 1 for unit in everyone}
