"""Events are never lost and never applied twice: inbox de-dup, retries of transient failures,
dead-lettering of what can never be handled (an unreadable body, an envelope of a schema version
this code does not know) — on a real nats-server and PostgreSQL."""

from __future__ import annotations

import json
import uuid

import asyncpg
import nats
import pytest

from shared.db import plain_url
from shared.events import stream_name, subject
from tests.integration.conftest import System
from tests.integration.steps import assignment_event, assignments_in_reports, dead_letters, notifications_for

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
    on every delivery: a poison message for the per-event (notify) and batched (reports)
    consumers alike. Both park it and go on."""
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

