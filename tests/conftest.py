"""Fixtures shared by every test layer: the real servers, a fresh database, a NATS prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import nats
import pytest

from shared.events import DEAD_LETTER, FAMILIES, stream_name
from tests.servers import Servers, new_database, real_servers, unique_name


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    with real_servers() as found:
        yield found


@pytest.fixture
async def database_url(servers: Servers) -> AsyncIterator[str]:
    """An empty database of the test's own (`cchc up` migrates it in the e2e tests)."""
    async with new_database(servers.database_url) as url:
        yield url


@pytest.fixture
async def nats_prefix(servers: Servers) -> AsyncIterator[str]:
    prefix = unique_name("t")
    yield prefix
    client = await nats.connect(servers.nats_url)
    js = client.jetstream()
    for family in (*FAMILIES, DEAD_LETTER):
        try:
            await js.delete_stream(stream_name(prefix, family))
        except Exception:  # noqa: BLE001 - a stream the test never created
            pass
    await client.close()


SHARED_LAYERS = ("browser", "faults")  # their tests share a deployment: one worker runs them all


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (make test runs two workers), the tests that share a session's or a
    module's deployment stay on one worker: the browser tests share one `cchc up` and its world,
    the fault tests one deployment. Every other test is a unit of work of its own (each has its
    own database and NATS prefix). (xdist's `xdist_group` mark does the same but is ignored
    under pytest 9: the node id it rewrites is no longer where the scheduler reads it.)"""
    from xdist.scheduler import LoadScopeScheduling

    class Layers(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            parts = nodeid.split("/")
            return parts[1] if len(parts) > 2 and parts[1] in SHARED_LAYERS else nodeid

    return Layers(config, log)
