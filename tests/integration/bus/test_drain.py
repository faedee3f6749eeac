"""A service's consumers stopping (shared/drain.py) against a real nats-server: the pull subscribers
have the shapes shared.bus.attach gives them (eight concurrent handlers per subscriber, or one
batch at a time), and ack_wait is ten minutes, so a message a stop left unacked would not come
back during the test: another replica must get everything not handled at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats
import pytest
from faststream import AckPolicy
from faststream.nats import AckPolicy as ServerAckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from nats.js import JetStreamContext

import shared.bus  # noqa: F401 - the pull loop's idle-fetch fix applies to every subscriber
from shared import drain
from tests.servers import Servers

pytestmark = pytest.mark.integration

MESSAGES = 200


@dataclass
class Consumer:
    """A broker consuming the stream the way a service does, each handler through the drain."""

    broker: NatsBroker
    subscriber: Any
    started: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)


@pytest.fixture
async def stream(servers: Servers, nats_prefix: str) -> AsyncIterator[tuple[JetStreamContext, str]]:
    client = await nats.connect(servers.nats_url)
    js = client.jetstream()
    name = f"{nats_prefix}-drain"
    await js.add_stream(name=name, subjects=[f"{name}.>"])
    try:
        yield js, name
    finally:
        await js.delete_stream(name)
        await client.close()


def consumer(url: str, name: str, *, batched: bool, work: Callable[[], Awaitable[None]]) -> Consumer:
    config = ConsumerConfig(
        durable_name="d",
        filter_subject=f"{name}.>",
        ack_policy=ServerAckPolicy.EXPLICIT,
        ack_wait=600,
        max_ack_pending=1000,
    )
    broker = NatsBroker(url, logger=None)
    gate = drain.of(broker)
    options: dict[str, Any] = (
        {"pull_sub": PullSub(batch_size=50, timeout=0.2, batch=True), "max_workers": 1}
        if batched
        else {"pull_sub": PullSub(batch_size=32, timeout=1.0), "max_workers": 8}
    )
    subscriber = broker.subscriber(
        f"{name}.>",
        stream=JStream(name, declare=False),
        durable="d",
        config=config,
        ack_policy=AckPolicy.MANUAL,
        **options,
    )
    made = Consumer(broker, subscriber)

    async def handle(raws: list[Any]) -> None:
        made.started.update(raw.data.decode() for raw in raws)
        await work()
        for raw in raws:
            await raw.ack()
        made.acked.update(raw.data.decode() for raw in raws)

    @subscriber
    async def on_message(message: NatsMessage) -> None:
        raws: list[Any] = message.raw_message if batched else [message.raw_message]  # type: ignore[assignment]
        if await gate.admit(raws):
            await gate.run(raws, handle(raws))

    return made


async def what_another_replica_gets(js: JetStreamContext, name: str, *, within: float) -> set[str]:
    pull = await js.pull_subscribe(f"{name}.>", durable="d", stream=name)
    got: set[str] = set()
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        with contextlib.suppress(TimeoutError):
            for msg in await pull.fetch(100, timeout=0.5):
                got.add(msg.data.decode())
                await msg.ack()
    await pull.unsubscribe()
    return got


async def publish(js: JetStreamContext, name: str) -> None:
    for index in range(MESSAGES):
        await js.publish(f"{name}.{index}", str(index).encode())


async def stopped_at_work(one: Consumer, *, handlers: int, seconds: float) -> tuple[drain.Drained, float]:
    """Start the consumer, stop it (a drain bounded by `seconds`) once `handlers` messages are at
    work; what the drain did and how long it took."""
    await one.broker.start()
    while len(one.started) < handlers:  # noqa: ASYNC110 - waiting for the handlers is the point
        await asyncio.sleep(0.01)
    began = asyncio.get_running_loop().time()
    drained = await drain.of(one.broker).stop(one.broker.subscribers, seconds=seconds)
    took = asyncio.get_running_loop().time() - began
    await one.broker.stop()
    return drained, took


@pytest.mark.parametrize("batched", [False, True], ids=["concurrent", "batched"])
async def test_a_stop_lets_running_handlers_commit_and_gives_back_what_was_fetched_at_once(
    servers: Servers, stream: tuple[JetStreamContext, str], batched: bool
) -> None:
    js, name = stream
    await publish(js, name)
    one = consumer(servers.nats_url, name, batched=batched, work=lambda: asyncio.sleep(0.5))
    drained, _ = await stopped_at_work(one, handlers=1, seconds=10)

    assert one.acked == one.started and drained.overran == 0  # every handler that began, finished
    assert drained.finished > 0 and (batched or drained.returned > 0)  # concurrent: 32 fetched, 8 at work
    rest = await what_another_replica_gets(js, name, within=3)
    assert rest | one.acked == {str(i) for i in range(MESSAGES)} and not rest & one.acked


@pytest.mark.parametrize("batched", [False, True], ids=["concurrent", "batched"])
async def test_handlers_overrunning_the_drain_are_cancelled_and_their_messages_and_those_behind_given_back(
    servers: Servers, stream: tuple[JetStreamContext, str], batched: bool
) -> None:
    js, name = stream
    await publish(js, name)
    one = consumer(servers.nats_url, name, batched=batched, work=lambda: asyncio.sleep(600))
    drained, took = await stopped_at_work(one, handlers=50 if batched else 8, seconds=0.5)

    assert took < 0.5 + drain.CLEANUP_SECONDS + 2  # the bound is the behaviour: a stop that overran it hangs
    assert drained.overran == len(one.started) and not one.acked
    rest = await what_another_replica_gets(js, name, within=3)
    assert rest == {str(i) for i in range(MESSAGES)}  # the cancelled ones too, and what waited behind them
