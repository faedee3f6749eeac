"""A message parked twice — its first ack lost, as when the nats-server restarts before it kept
the ack — is one dead letter, not two (found by the fault suite, tests/faults: a poison message
dead-lettered again after a nats-server SIGKILL). Real JetStream."""

from __future__ import annotations

import nats
import pytest
from faststream.nats import NatsBroker

from shared.bus import dead_letter, ensure_streams
from shared.events import DEAD_LETTER, stream_name
from shared.settings import Settings
from tests.servers import Servers

pytestmark = pytest.mark.integration


async def test_a_message_dead_lettered_again_after_a_lost_ack_is_one_letter(servers: Servers, nats_prefix: str) -> None:
    settings = Settings(nats_url=servers.nats_url, nats_prefix=nats_prefix)
    client = await nats.connect(servers.nats_url)
    broker = NatsBroker(servers.nats_url)
    await broker.connect()
    try:
        js = client.jetstream()
        await ensure_streams(js, nats_prefix, settings)
        subject = f"{nats_prefix}.progress.reported.52.21787"
        await js.publish(subject, b"not an event", stream=stream_name(nats_prefix, "progress"))
        await js.publish(subject, b"not an event either", stream=stream_name(nats_prefix, "progress"))
        pull = await js.pull_subscribe(subject, durable="t-reports", stream=stream_name(nats_prefix, "progress"))
        first, second = await pull.fetch(2, timeout=5)
        for _ in range(2):  # parked, the ack lost, redelivered, parked again
            await dead_letter(broker, prefix=nats_prefix, service="reports", msg=first, reason="bad envelope")
        await dead_letter(broker, prefix=nats_prefix, service="reports", msg=second, reason="bad envelope")
        await dead_letter(broker, prefix=nats_prefix, service="notify", msg=first, reason="bad envelope")
        letters = await js.stream_info(stream_name(nats_prefix, DEAD_LETTER))
        # one per consuming service and stored message: reports ×2 messages, notify ×1
        assert letters.state.messages == 3
    finally:
        await broker.stop()
        await client.close()
