"""A province deployment on a JetStream cluster of three nats-servers (streams with three copies,
every service twice on the same durable consumers, each given all three nodes' URLs), as
`cchc up --cluster 3 --replicas 2` runs it: the node leading the progress stream is SIGKILLed
while reports flow; the flow goes on on the other two, the node is started again on its store and
catches up, and the checker finds nothing lost, nothing applied twice, every view agreeing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js.api import StreamInfo

from shared.events import DEAD_LETTER, FAMILIES, stream_name
from tests.faults.conftest import own_deployment, record, world_of
from tests.faults.deployment import PREFIX, Deployment
from tests.faults.faults import under_load
from tests.faults.load import Load, World

pytestmark = [pytest.mark.faults, pytest.mark.every_run]

DOWN_SECONDS = 12.0  # the node stays dead while the load goes on


@pytest.fixture(scope="module")
async def clustered() -> AsyncIterator[Deployment]:
    async with own_deployment(cluster=3) as made:
        yield made


@pytest.fixture(scope="module")
async def cluster_world(clustered: Deployment) -> World:
    return await world_of(clustered)


async def streams(deployment: Deployment) -> dict[str, StreamInfo]:
    async with deployment.bus() as client:
        js = client.jetstream()
        return {family: await js.stream_info(stream_name(PREFIX, family)) for family in (*FAMILIES, DEAD_LETTER)}


def lagging(info: StreamInfo) -> list[str]:
    """What keeps a stream from having its three copies current: no leader, or a replica that
    is offline, not current or behind."""
    cluster = info.cluster
    if cluster is None or not cluster.leader:
        return ["no leader"]
    return [
        f"{peer.name}: offline={peer.offline} current={peer.current} lag={peer.lag}"
        for peer in cluster.replicas or []
        if peer.offline or not peer.current or (peer.lag or 0) > 0
    ]


async def wait_for(check: object, *, timeout: float, what: str) -> float:  # noqa: ASYNC109 - a polling deadline
    """Seconds until the coroutine function `check` returns a true value."""
    assert callable(check)
    started = time.monotonic()
    last: object = None
    while time.monotonic() - started < timeout:
        with contextlib.suppress(nats.errors.Error, OSError, asyncio.TimeoutError):
            last = await check()
            if last:
                return time.monotonic() - started
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what} not within {timeout}s (last: {last})")


async def test_the_node_leading_the_progress_stream_killed_under_load(
    clustered: Deployment, cluster_world: World
) -> None:
    before = await streams(clustered)
    for family, info in before.items():
        assert info.config.num_replicas == 3, family  # every stream kept on the three nodes
        assert len((info.cluster.replicas if info.cluster else None) or []) == 2, family  # leader + 2 others

    async def kill_the_leader(_: Load) -> dict[str, object]:
        progress = (await streams(clustered))["progress"]
        assert progress.cluster and progress.cluster.leader
        leader = progress.cluster.leader
        node = clustered.node(leader)
        at_kill = progress.state.last_seq
        await asyncio.to_thread(clustered.kill_node, node)

        async def led_elsewhere() -> bool:
            info = (await streams(clustered))["progress"]
            return bool(info.cluster and info.cluster.leader and info.cluster.leader != leader)

        failover = await wait_for(led_elsewhere, timeout=60, what="a new leader for the progress stream")
        await asyncio.sleep(max(0.0, DOWN_SECONDS - failover))
        while_down = (await streams(clustered))["progress"].state.last_seq - at_kill
        await asyncio.to_thread(node.start)  # its own store and ports

        async def all_current() -> bool:
            return not any(lagging(info) for info in (await streams(clustered)).values())

        caught_up = await wait_for(all_current, timeout=120, what="every stream's three copies current")
        return {
            "killed": leader,
            "failover_s": round(failover, 1),
            "progress_events_while_down": while_down,
            "caught_up_s": round(caught_up, 1),
        }

    run = await under_load(clustered, cluster_world, kill_the_leader, seed=7, after=15)
    run.figures["load_average"] = round(os.getloadavg()[0], 1)
    record("cluster node SIGKILL (3 nodes, R3)", run.verdict, **run.figures)
    assert run.verdict.problems == [], run.verdict.problems
    assert run.verdict.lost == 0 and run.verdict.doubled == 0
    assert run.verdict.ok > 0
    assert int(run.figures["progress_events_while_down"]) > 0  # the flow went on on two nodes
    after = await streams(clustered)
    assert not [(family, lagging(info)) for family, info in after.items() if lagging(info)]
