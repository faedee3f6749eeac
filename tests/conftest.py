"""Fixtures shared by every test layer: the real servers, a fresh database, a NATS prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (make test runs two workers), the tests that share a session's
    deployment stay on one worker: the browser tests share one `cchc up` and its world, the
    fault tests one deployment per module."""
    for item in items:
        for layer in ("browser", "faults"):
            if layer in item.nodeid.split("/")[:2]:
                item.add_marker(pytest.mark.xdist_group(layer))
