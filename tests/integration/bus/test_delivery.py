"""Events are never lost and never applied twice: inbox de-dup, retries of transient failures,
dead-lettering of what can never be handled (a poison payload, an envelope of a schema version
this code does not know), messages too large for their stream refused at publish, effects that
do not depend on the order events arrive in — on a real nats-server and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import nats
import pytest
from nats.js.api import RawStreamMsg
from nats.js.errors import BadRequestError
from pydantic import BaseModel

from shared.db import plain_url
from shared.events import AssignmentCreated, ProgressReported, UnitRef, make_event, stream_name, subject
from shared.settings import Settings
from tests.integration.conftest import DatabaseRoles, System, running
from tests.integration.plans_data import ONE_COMMUNE_PLAN
from tests.integration.steps import (
    assignment_event,
    assignments_in_reports,
    dead_letters,
    notifications_for,
    q1_assignment,
)

pytestmark = pytest.mark.integration


async def publish(
    system: System,
    body: bytes,
    unit_path: str,
    *,
    msg_id: str,
    json_label: bool = False,
    event_type: str = "assignment.created",
) -> bool:
    """Publish as another system would; returns True if JetStream saw it as a duplicate."""
    client = await nats.connect(system.settings.nats_url)
    try:
        prefix = system.settings.nats_prefix
        headers = {"Nats-Msg-Id": msg_id} | ({"content-type": "application/json"} if json_label else {})
        ack = await client.jetstream().publish(
            subject(prefix, event_type, unit_path),
            body,
            stream=stream_name(prefix, event_type.split(".", 1)[0]),
            headers=headers,
        )
        return bool(ack.duplicate)
    finally:
        await client.close()


async def test_the_same_event_delivered_twice_creates_one_notification(system: System) -> None:
    body, assignment_id, path = assignment_event()
    assert await publish(system, body, path, msg_id="first") is False
    assert await publish(system, body, path, msg_id="first") is True  # JetStream's own de-dup window
    assert await publish(system, body, path, msg_id="second-copy") is False  # past the window: the inbox

    await system.eventually(lambda: notifications_for(system, assignment_id))
    await system.settled()  # both copies handled
    assert await notifications_for(system, assignment_id) == 1
    client = await nats.connect(system.settings.nats_url)
    info = await client.jetstream().consumer_info(
        stream_name(system.settings.nats_prefix, "assignment"), "notify-assignment-created"
    )
    await client.close()
    assert (info.num_ack_pending, info.num_pending) == (0, 0)  # the duplicate was acked, not left


async def test_a_transient_database_failure_is_retried_until_it_succeeds(system: System) -> None:
    admin = await asyncpg.connect(plain_url(system.settings.database_url or ""))
    await admin.execute("ALTER TABLE notify.notifications RENAME TO notifications_away")
    try:
        body, assignment_id, path = assignment_event()
        await publish(system, body, path, msg_id=str(uuid.uuid4()))

        async def redelivered() -> bool:  # the first delivery failed: the table is gone
            client = await nats.connect(system.settings.nats_url)
            try:
                stream = stream_name(system.settings.nats_prefix, "assignment")
                info = await client.jetstream().consumer_info(stream, "notify-assignment-created")
            finally:
                await client.close()
            return info.delivered.consumer_seq >= 2

        await system.eventually(redelivered)
    finally:
        await admin.execute("ALTER TABLE notify.notifications_away RENAME TO notifications")
        await admin.close()
    assert await system.eventually(lambda: notifications_for(system, assignment_id), timeout=30) == 1
    assert await dead_letters(system) == []


async def test_an_unreadable_event_is_dead_lettered_and_the_stream_moves_on(system: System) -> None:
    await publish(system, b"{not json", "52.21787", msg_id=str(uuid.uuid4()))
    body, assignment_id, path = assignment_event()
    await publish(system, body, path, msg_id=str(uuid.uuid4()))
    assert await system.eventually(lambda: notifications_for(system, assignment_id)) == 1

    async def parked() -> list:
        return [m for m in await dead_letters(system) if m.headers and "notify" in m.subject]

    letters = await system.eventually(parked)
    prefix = system.settings.nats_prefix
    assert letters[0].headers["Cchc-Original-Subject"] == f"{prefix}.assignment.created.52.21787"
    assert letters[0].data == b"{not json"


async def test_a_body_labelled_json_that_is_not_json_is_dead_lettered_by_every_consumer(system: System) -> None:
    """faststream would decode a body labelled application/json before any handler ran, and fail
    on every delivery: a poison message for both consumers of the subject (notify and reports,
    each a fetched batch per transaction). Both park it and go on."""
    await publish(system, b"{not json", "52.21787", msg_id=str(uuid.uuid4()), json_label=True)
    body, assignment_id, path = assignment_event()
    await publish(system, body, path, msg_id=str(uuid.uuid4()))
    assert await system.eventually(lambda: notifications_for(system, assignment_id)) == 1

    async def parked() -> set[str] | None:
        letters = [m for m in await dead_letters(system) if m.data == b"{not json"]
        prefix = system.settings.nats_prefix
        services = {m.subject.removeprefix(f"{prefix}.").split(".")[1] for m in letters}
        return services if {"notify", "reports"} <= services else None

    assert await system.eventually(parked) == {"notify", "reports"}
    client = await nats.connect(system.settings.nats_url)
    try:
        js, stream = client.jetstream(), stream_name(system.settings.nats_prefix, "assignment")
        for durable in ("notify-assignment-created", "reports-assignment-created"):

            async def settled(durable: str = durable) -> bool:
                info = await js.consumer_info(stream, durable)
                return (info.num_ack_pending, info.num_pending) == (0, 0)

            await system.eventually(settled)
    finally:
        await client.close()


async def test_an_event_that_keeps_failing_is_dead_lettered_after_the_last_delivery(system: System) -> None:
    admin = await asyncpg.connect(plain_url(system.settings.database_url or ""))
    await admin.execute("ALTER TABLE notify.notifications RENAME TO notifications_away")
    try:
        body, assignment_id, path = assignment_event()
        await publish(system, body, path, msg_id=str(uuid.uuid4()))

        async def parked() -> list:
            return [m for m in await dead_letters(system) if m.data == body]

        letters = await system.eventually(parked, timeout=40)
        assert letters[0].headers["Cchc-Deliveries"] == str(system.settings.max_deliver)
        assert "notifications" in letters[0].headers["Cchc-Error"]
    finally:
        await admin.execute("ALTER TABLE notify.notifications_away RENAME TO notifications")
        await admin.close()
    await system.settled()
    assert await notifications_for(system, assignment_id) == 0  # parked, not half-applied


async def test_an_event_of_a_schema_version_this_code_does_not_know_is_dead_lettered_and_the_flow_goes_on(
    system: System,
) -> None:
    """From a producer newer than its consumers: its fields may mean something else than they do
    in version 1, so it is parked with the reason, not applied as if it were version 1."""
    body, assignment_id, path = assignment_event()
    newer = json.loads(body) | {"version": 7}
    newer_body = json.dumps(newer).encode()
    await publish(system, newer_body, path, msg_id=str(uuid.uuid4()))
    current, current_id, _ = assignment_event()
    await publish(system, current, path, msg_id=str(uuid.uuid4()))
    assert await system.eventually(lambda: notifications_for(system, current_id)) == 1
    assert await system.eventually(lambda: assignments_in_reports(system, current_id)) == 1

    async def reasons() -> dict[str, str] | None:
        prefix = system.settings.nats_prefix
        found = {
            m.subject.removeprefix(f"{prefix}.dlq.").split(".")[0]: m.headers["Cchc-Error"]
            for m in await dead_letters(system)
            if m.data == newer_body
        }
        return found if {"notify", "reports"} <= set(found) else None

    reason = "unknown schema version 7 of assignment.created"
    assert await system.eventually(reasons) == {"notify": reason, "reports": reason}
    await system.settled()
    assert await notifications_for(system, assignment_id) == 0
    assert await assignments_in_reports(system, assignment_id) == 0


async def stored_event(system: System, event_type: str) -> RawStreamMsg:
    """The first `event_type` message in its family's stream, as the outbox relay published it."""
    client = await nats.connect(system.settings.nats_url)
    try:
        prefix = system.settings.nats_prefix
        stream = stream_name(prefix, event_type.split(".", 1)[0])
        return await client.jetstream().get_msg(stream, 1, subject=f"{prefix}.{event_type}.>", next=True)
    finally:
        await client.close()


async def effects(system: System, plan_id: str) -> dict[str, Any]:
    """What one plan and its reports came to, in every service that consumes them."""
    client = await nats.connect(system.settings.nats_url)
    try:
        announced = (
            await client.jetstream().stream_info(stream_name(system.settings.nats_prefix, "assignment"))
        ).state.messages
    finally:
        await client.close()
    admin = await asyncpg.connect(plain_url(system.settings.database_url or ""))
    try:
        counts = {
            table: await admin.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - the test's own names
            for table in ("tasks.assignments", "reports.plans", "reports.assignments", "reports.progress")
        }
        notified = await admin.fetchval("SELECT count(*) FROM notify.notifications WHERE kind = 'assigned'")
    finally:
        await admin.close()
    rollup = (await system.get("/api/reports/rollup", params={"unit": "21787", "period": "2026"})).json()
    return {
        **counts,
        "assignment events": announced,
        "notified": notified,
        "rollup": {k: rollup[k] for k in ("expected", "reported", "outputs")},
    }


async def test_an_event_published_three_times_has_one_effect_in_every_service(system: System) -> None:
    """plan.issued and progress.reported as the relays published them, then twice again: under
    the same message id within JetStream's de-dup window (the server drops it), and under another
    (stored again, as a retry past the window would be). tasks makes and announces the assignments
    once, reports counts them and the report once, notify tells the unit once."""
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200
    assignment = await q1_assignment(system, "21787")
    sent = await system.post(
        f"/api/assignments/{assignment['id']}/progress",
        json={"period": "2026-Q1", "status": "done", "outputs": {"article": 3}, "reporter": {"unit": "21787"}},
    )
    assert sent.status_code == 201, sent.text
    await system.settled()
    once = await effects(system, plan_id)
    quarters = 4  # one quarterly task, one commune, in 2026
    assert once == {
        "tasks.assignments": quarters,
        "reports.plans": 1,
        "reports.assignments": quarters,
        "reports.progress": 1,
        "assignment events": quarters,
        "notified": quarters,
        "rollup": {"expected": quarters, "reported": 1, "outputs": {"article": 3}},
    }

    for event_type in ("plan.issued", "progress.reported"):
        message = await stored_event(system, event_type)
        unit_path = message.subject.removeprefix(f"{system.settings.nats_prefix}.{event_type}.")
        body, msg_id = message.data or b"", (message.headers or {})["Nats-Msg-Id"]
        kind = {"event_type": event_type}
        assert await publish(system, body, unit_path, msg_id=msg_id, **kind) is True  # dropped by JetStream
        assert await publish(system, body, unit_path, msg_id=str(uuid.uuid4()), **kind) is False  # stored again
    await system.settled()
    assert await effects(system, plan_id) == once
    assert await dead_letters(system) == []


async def test_events_of_one_assignment_arriving_in_the_wrong_order_end_in_the_right_state(system: System) -> None:
    """The streams promise no order between event types, nor between the consumers of one type
    and its correction: reports gets a correction before the report it corrects, both before the
    assignment they are about, and the assignment's update before its creation — each applied
    before the next is sent. The end state is the one the facts' own times give."""
    await system.post("/api/units/load", json={"provinces": ["52"]})
    unit = UnitRef(code="21787", path="52.21787", name="Xã Vĩnh Sơn", level="commune")
    assignment_id, plan_id = uuid.uuid4(), uuid.uuid4()
    created = AssignmentCreated(
        assignment_id=assignment_id,
        plan_id=plan_id,
        plan_number="7/KH-UBND",
        task_ref="2",
        task_title="Tuyên truyền trên Đài truyền thanh xã",
        unit=unit,
        role="lead",
        period="2026-Q1",
        due=date(2026, 3, 15),
    )
    updated = created.model_copy(update={"task_title": "Tuyên truyền trên loa truyền thanh", "due": date(2026, 3, 31)})
    first_at, corrected_at = datetime(2026, 2, 2, 2, tzinfo=UTC), datetime(2026, 2, 6, 2, tzinfo=UTC)
    first = ProgressReported(
        report_id=uuid.uuid4(),
        assignment_id=assignment_id,
        plan_id=plan_id,
        unit=unit,
        period="2026-Q1",
        due=created.due,
        status="in_progress",
        outputs={"broadcast": 2},
        reported_at=first_at,
        on_time=True,
    )
    correction = first.model_copy(
        update={
            "report_id": uuid.uuid4(),
            "status": "done",
            "outputs": {"broadcast": 5},
            "reported_at": corrected_at,
            "done_at": corrected_at,
        }
    )
    arrivals: list[tuple[str, BaseModel, datetime]] = [
        ("progress.corrected", correction, corrected_at),
        ("progress.reported", first, first_at),
        ("assignment.updated", updated, datetime(2026, 1, 20, 2, tzinfo=UTC)),
        ("assignment.created", created, datetime(2026, 1, 5, 2, tzinfo=UTC)),
    ]
    for event_type, payload, at in arrivals:
        envelope = make_event(event_type, unit_path=unit.path, producer="tasks", payload=payload, at=at)
        body = envelope.model_dump_json().encode()
        await publish(system, body, unit.path, msg_id=str(envelope.id), event_type=event_type)
        await system.settled()  # applied before the next arrives: the order is the one written here

    admin = await asyncpg.connect(plain_url(system.settings.database_url or ""))
    try:
        assignment = await admin.fetchrow(
            "SELECT task_title, due, cancelled FROM reports.assignments WHERE id = $1", assignment_id
        )
        progress = await admin.fetchrow(
            "SELECT report_id, status, outputs, first_reported_at, last_reported_at FROM reports.progress"
            " WHERE assignment_id = $1",
            assignment_id,
        )
    finally:
        await admin.close()
    assert tuple(assignment) == (updated.task_title, updated.due, False)  # the update, though it came first
    assert (progress["report_id"], progress["status"], json.loads(progress["outputs"])) == (
        correction.report_id,
        "done",
        {"broadcast": 5},
    )  # the correction, though the report it corrects came after it
    assert (progress["first_reported_at"], progress["last_reported_at"]) == (first_at, corrected_at)
    rollup = (await system.get("/api/reports/rollup", params={"unit": "21787", "period": "2026-Q1"})).json()
    assert {k: rollup[k] for k in ("expected", "reported", "on_time", "outputs")} == {
        "expected": 1,
        "reported": 1,
        "on_time": 1,
        "outputs": {"broadcast": 5},
    }
    assert rollup["states"]["done_on_time"] == 1
    assert await dead_letters(system) == []


async def test_a_poison_payload_is_parked_an_oversized_message_refused_and_later_events_still_flow(
    system: System,
) -> None:
    """Two bad messages for the consumers of progress.reported (notify and reports, both in
    batches): an envelope whose payload is no progress report is parked by each with the reason;
    one larger than the progress stream's max_msg_size is refused by the stream when published,
    and never stored. A good report sent after them is applied by both."""
    settings = system.settings
    prefix = settings.nats_prefix
    assigned, assignment_id, path = assignment_event()
    await publish(system, assigned, path, msg_id=str(uuid.uuid4()))
    assert await system.eventually(lambda: assignments_in_reports(system, assignment_id)) == 1

    def report(**changes: Any) -> tuple[bytes, ProgressReported]:
        payload = ProgressReported(
            report_id=uuid.uuid4(),
            assignment_id=assignment_id,
            plan_id=uuid.uuid4(),
            unit=UnitRef(code="21787", path=path, name="Xã Vĩnh Sơn", level="commune"),
            period="2026-Q1",
            due=date(2026, 3, 15),
            status="done",
            outputs={"article": 1},
            reported_at=datetime(2026, 2, 9, 2, tzinfo=UTC),
            on_time=True,
            **changes,
        )
        envelope = make_event(
            "progress.reported", unit_path=path, producer="tasks", payload=payload, at=payload.reported_at
        )
        return envelope.model_dump_json().encode(), payload

    def publish_report(body: bytes) -> Any:
        return publish(system, body, path, msg_id=str(uuid.uuid4()), event_type="progress.reported")

    good_looking, _ = report()
    poison = json.loads(good_looking)
    poison["payload"]["status"] = "finished"  # not a status a report can have
    poison_body = json.dumps(poison).encode()
    await publish_report(poison_body)

    huge, _ = report(note="x" * (settings.event_default_max_bytes + 100 * 1024))
    client = await nats.connect(settings.nats_url)
    try:
        js, stream = client.jetstream(), stream_name(prefix, "progress")
        before = (await js.stream_info(stream)).state.messages
        with pytest.raises(BadRequestError) as refused:
            await publish_report(huge)
        assert refused.value.err_code == 10054, refused.value  # message size exceeds maximum allowed
        assert (await js.stream_info(stream)).state.messages == before
    finally:
        await client.close()

    good, payload = report()
    await publish_report(good)

    async def applied() -> bool:
        admin = await asyncpg.connect(plain_url(settings.database_url or ""))
        try:
            in_reports = await admin.fetchval(
                "SELECT count(*) FROM reports.progress WHERE assignment_id = $1", payload.assignment_id
            )
            settled_in_notify = await admin.fetchval(  # a done report settles the occurrence's escalations
                "SELECT count(*) FROM notify.settled WHERE assignment_id = $1", payload.assignment_id
            )
        finally:
            await admin.close()
        return in_reports == 1 and settled_in_notify == 1

    await system.eventually(applied)

    async def reasons() -> dict[str, str] | None:
        found = {
            m.subject.removeprefix(f"{prefix}.dlq.").split(".")[0]: m.headers["Cchc-Error"]
            for m in await dead_letters(system)
            if m.data == poison_body
        }
        return found if {"notify", "reports"} <= set(found) else None

    parked = await system.eventually(reasons)
    for reason in parked.values():
        assert reason.startswith("bad progress.reported payload") and "status" in reason, reason
    await system.settled()
    assert len(await dead_letters(system)) == 2  # the poison, once per consumer; nothing else


async def test_a_poison_message_as_large_as_its_stream_takes_is_parked_too(
    settings: Settings, database_roles: DatabaseRoles
) -> None:
    """A letter is the message plus the dead-letter headers: the dead-letter stream takes one made
    of the largest message the largest family's stream stores. (It used to refuse it, and the
    message was nak'd and redelivered every five seconds, for ever.)"""
    limit = 64 * 1024  # plan and audit, the largest families here
    async with running(
        settings,
        database_roles,
        "tasks",
        "reports",
        event_max_bytes={"plan": limit, "audit": limit},
        event_default_max_bytes=limit // 2,
    ) as system:
        prefix = settings.nats_prefix
        client = await nats.connect(settings.nats_url)
        try:
            js = client.jetstream()
            largest = (await js.stream_info(stream_name(prefix, "plan"))).config.max_msg_size or 0
            assert largest > limit
            body = b"x" * (largest - 200)  # with its headers (message id, stream), about what the stream stores
            await js.publish(
                subject(prefix, "plan.issued", "52"),
                body,
                stream=stream_name(prefix, "plan"),
                headers={"Nats-Msg-Id": str(uuid.uuid4())},
            )
        finally:
            await client.close()

        async def parked() -> dict[str, str] | None:
            found = {
                m.subject.removeprefix(f"{prefix}.dlq.").split(".")[0]: m.headers["Cchc-Error"]
                for m in await dead_letters(system)
                if m.data == body
            }
            return found if {"tasks", "reports"} <= set(found) else None

        reasons = await system.eventually(parked, timeout=30)  # redelivered for ever otherwise: never idle
        assert all(reason.startswith("bad envelope") for reason in reasons.values()), reasons
        await system.settled()
