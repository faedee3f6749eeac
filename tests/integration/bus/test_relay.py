"""The outbox relay publishes a batch with all its PubAcks in flight at once: when NATS refuses
part of a batch, what it accepted is marked and never sent again, what it refused waits in the
outbox and goes out later, once — nothing lost, nothing doubled."""

from __future__ import annotations

import copy
from collections import Counter

import nats
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from shared import outbox
from shared.db import system_scope
from shared.events import Envelope, UnitRenamed, make_event, stream_name, subject
from shared.settings import Settings
from tests.integration.conftest import DatabaseRoles, System, running
from tests.integration.hostile.conftest import outbox_rows
from tests.integration.steps import closed_plans

pytestmark = pytest.mark.integration

EACH = 700  # of two families, interleaved: more rows than a relay pass takes (outbox.BATCH)


def events(system: System) -> tuple[list[Envelope], list[Envelope]]:
    """EACH plan.closed and EACH unit.renamed of the plans service, as its writes would make them."""
    closed = closed_plans(system, EACH)
    renamed = [
        make_event(
            "unit.renamed",
            unit_path="52",
            producer="plans",
            payload=UnitRenamed(code="52", name=f"UBND tỉnh Gia Lai ({n})", level="province", parent=None, path="52"),
            at=system.clock.now(),
        )
        for n in range(EACH)
    ]
    return closed, renamed


async def message_ids(js: JetStreamContext, subjects: str, stream: str) -> Counter[str]:
    """How many messages the stream holds under each message id (Nats-Msg-Id)."""
    pull = await js.pull_subscribe(subjects, stream=stream)
    found: Counter[str] = Counter()
    while True:
        try:
            batch = await pull.fetch(1000, timeout=1.0)
        except TimeoutError:
            return found
        found.update((m.headers or {}).get("Nats-Msg-Id", "") for m in batch)
        for m in batch:
            await m.ack()


async def test_a_batch_nats_partly_refuses_publishes_the_rest_once_and_the_refused_later_once(
    settings: Settings, database_roles: DatabaseRoles
) -> None:
    async with running(settings, database_roles, "plans") as system:
        client = await nats.connect(settings.nats_url or "")
        try:
            js, prefix = client.jetstream(), settings.nats_prefix
            plan_stream = stream_name(prefix, "plan")
            await js.publish(subject(prefix, "plan.closed", "52"), b"{}", stream=plan_stream)  # the stream's first
            info = await js.stream_info(plan_stream)
            full = copy.copy(info.config)
            full.max_msgs = info.state.messages  # refuses the next one (discard new)
            await js.update_stream(full)

            wire: Counter[str] = Counter()  # every message the relay sends, refused or not, by its id

            async def sent(message: Msg) -> None:
                wire[(message.headers or {}).get("Nats-Msg-Id", "")] += 1

            await client.subscribe(f"{prefix}.>", cb=sent)
            await client.flush()
            closed, renamed = events(system)
            plans = system.services["plans"]
            with system_scope():
                async with plans.sessions() as session, session.begin():
                    mixed = [e for pair in zip(closed, renamed, strict=True) for e in pair]
                    await outbox.add(session, plans.outbox, mixed, prefix=prefix, limits=outbox.EventLimits())
            plans.relay.wake()

            async def units_out() -> bool:
                return await outbox_rows(system, family="unit", waiting=True) == 0

            await system.eventually(units_out, timeout=60)
            await client.flush()
            assert {str(e.id): wire[str(e.id)] for e in renamed} == {str(e.id): 1 for e in renamed}
            assert await outbox_rows(system, family="plan", waiting=True) == EACH  # refused: still waiting
            assert (await js.stream_info(plan_stream)).state.messages == info.state.messages

            roomy = copy.copy(info.config)
            roomy.max_msgs = -1
            await js.update_stream(roomy)

            async def plans_out() -> bool:
                return await outbox_rows(system, family="plan", waiting=True) == 0

            await system.eventually(plans_out, timeout=60)
            await client.flush()
            assert (await js.stream_info(plan_stream)).state.messages == info.state.messages + EACH
            stored = await message_ids(js, f"{prefix}.plan.closed.>", plan_stream)
            stored.pop("", None)  # the stream's first message, sent without an id
            assert stored == Counter({str(e.id): 1 for e in closed})
            # the units' events were not sent again while the plans' were retried
            assert {str(e.id): wire[str(e.id)] for e in renamed} == {str(e.id): 1 for e in renamed}
            assert all(wire[str(e.id)] >= 1 for e in closed)
        finally:
            await client.close()
