"""A pull consumer's fetched batch as the bus takes it (shared/bus.py takes an already queued
message without nats-py's task and timer per message): every message once, in the stream's
order, the subscription's pending bytes back to nothing, and a fetch that finds nothing still
waits for its timeout — on a real nats-server."""

from __future__ import annotations

import nats
import pytest
from nats.js.api import ConsumerConfig

import shared.bus  # noqa: F401 - the bus's way of taking queued messages is what is tested
from tests.servers import Servers

pytestmark = pytest.mark.integration


async def test_a_fetched_batch_comes_whole_in_order_and_an_empty_fetch_still_times_out(
    servers: Servers, nats_prefix: str
) -> None:
    client = await nats.connect(servers.nats_url)
    try:
        js = client.jetstream()
        stream = f"{nats_prefix}_FETCH".upper()
        await js.add_stream(name=stream, subjects=[f"{nats_prefix}.fetch.>"])
        for n in range(250):
            await js.publish(f"{nats_prefix}.fetch.{n % 7}", str(n).encode())
        sub = await js.pull_subscribe(f"{nats_prefix}.fetch.>", durable="fetch", config=ConsumerConfig())
        first = await sub.fetch(200, timeout=5)
        rest = await sub.fetch(200, timeout=1)
        assert [int(m.data) for m in first + rest] == list(range(250))
        assert sub._sub._pending_size == 0 and sub._sub._pending_queue.empty()
        for msg in first + rest:
            await msg.ack()
        with pytest.raises(TimeoutError):
            await sub.fetch(10, timeout=0.5)
        await js.delete_stream(stream)
    finally:
        await client.close()
