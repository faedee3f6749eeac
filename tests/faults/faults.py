"""Running the load while a fault is injected, then checking: what every fault test does."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from shared.events import stream_name
from tests.faults.checker import Verdict, check
from tests.faults.deployment import PREFIX, Deployment
from tests.faults.load import Load, World


@dataclass
class Run:
    verdict: Verdict
    figures: dict[str, Any] = field(default_factory=dict)


async def under_load(
    deployment: Deployment,
    world: World,
    fault: Callable[[Load], Awaitable[dict[str, Any] | None]],
    *,
    seed: int,
    before: float = 5.0,
    after: float = 10.0,
    rebuild: bool = False,
) -> Run:
    """The load for `before` seconds, then the fault (given the load, to pause it; it returns its
    own figures, e.g. how long it lasted), the load for `after` more seconds, then the system left to go idle and
    checked. Figures: the seconds to healthy again after the fault, and to idle after the load."""
    since, faults_before = len(world.history.ops), len(deployment.faults)
    load = Load(deployment, world, seed=seed)
    running = asyncio.create_task(load.run())
    await asyncio.sleep(before)
    figures = dict(await fault(load) or {})
    load.going.set()
    faulted = time.monotonic()
    figures["healthy_after_s"] = round(await asyncio.to_thread(deployment.wait_healthy, timeout=300), 1)
    await asyncio.sleep(max(0.0, after - (time.monotonic() - faulted)))
    load.stop.set()
    await running
    figures["idle_after_s"] = round(await deployment.settled(), 1)
    verdict = await check(deployment, world, since=since, poison=deployment.poisoned, rebuild=rebuild)
    figures["faults"] = len(deployment.faults) - faults_before
    return Run(verdict, figures)


async def health_while(deployment: Deployment, seconds: float) -> list[tuple[int, str]]:
    """The gateway's /healthz answers, every 2 s for `seconds`."""
    seen: list[tuple[int, str]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, body = await asyncio.to_thread(deployment.health)
        seen.append((status, str(body.get("reason", ""))))
        await asyncio.sleep(2)
    return seen


async def consumers_of(deployment: Deployment, event_type: str) -> int:
    """How many durable consumers (services) receive `event_type`."""
    family = event_type.split(".", 1)[0]
    async with deployment.bus() as client:
        infos = await client.jetstream().consumers_info(stream_name(PREFIX, family))
    return sum(1 for c in infos if (c.config.filter_subject or "").startswith(f"{PREFIX}.{event_type}."))


async def inject_poison(deployment: Deployment, world: World, count: int) -> None:
    """Messages no consumer can ever apply, on a real subject: a body that is not JSON, one with
    an unknown schema version is the integration tests' (tests/integration/bus). Each consumer
    dead-letters each of them once."""
    event_type = "progress.reported"
    per_message = await consumers_of(deployment, event_type)
    code = world.communes[0]
    async with deployment.bus() as client:
        js = client.jetstream()
        for index in range(count):
            await js.publish(
                f"{PREFIX}.{event_type}.52.{code}",
                b'{"id": "not-a-uuid", "type": "progress.reported", "payload": [' + str(index).encode(),
                stream=stream_name(PREFIX, "progress"),
                headers={"Nats-Msg-Id": str(uuid.uuid4())},
            )
    deployment.poisoned += count * per_message


async def republish(deployment: Deployment, times: int = 3) -> int:
    """The last progress events stored, published again under new message ids (beyond
    JetStream's de-dup window, as a relay retrying much later would): the inbox must absorb them."""
    sent = 0
    async with deployment.bus() as client:
        js = client.jetstream()
        info = await js.stream_info(stream_name(PREFIX, "progress"))
        for seq in range(max(info.state.first_seq, info.state.last_seq - 20), info.state.last_seq + 1):
            with contextlib.suppress(Exception):
                msg = await js.get_msg(stream_name(PREFIX, "progress"), seq)
                if not msg.subject or not msg.data or not msg.data.startswith(b'{"id":"'):
                    continue
                for _ in range(times):
                    await js.publish(
                        msg.subject,
                        msg.data,
                        stream=stream_name(PREFIX, "progress"),
                        headers={"Nats-Msg-Id": str(uuid.uuid4())},
                    )
                    sent += 1
    return sent


@dataclass
class Outage:
    """A server out of reach for `seconds` under load: /healthz is watched for the first
    `noticed_within` seconds, then the clients pause and, once their last work is done (20 s),
    the services' CPU is measured for 10 s while they only wait; then the server comes back."""

    deployment: Deployment
    begin: Callable[[], Awaitable[None]]
    end: Callable[[], Awaitable[None]]
    seconds: float
    noticed_within: float
    health: list[tuple[int, str]] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    async def __call__(self, load: Load) -> dict[str, float]:
        started = time.monotonic()
        await self.begin()
        self.health = await health_while(self.deployment, self.noticed_within)
        load.going.clear()
        await asyncio.sleep(20)
        self.cpu = await asyncio.to_thread(self.deployment.cpu_percent, 10.0)
        load.going.set()
        await asyncio.sleep(max(0.0, self.seconds - (time.monotonic() - started)))
        await self.end()
        return {"outage_s": round(time.monotonic() - started), "idle_cpu_max_percent": max(self.cpu.values())}
