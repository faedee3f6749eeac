"""Fixtures shared by every test layer: the real servers, a fresh database, a NATS prefix."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from shared.events import DEAD_LETTER, FAMILIES, stream_name
from tests.servers import Servers, new_database, real_servers, unique_name


@pytest.fixture(scope="session", autouse=True)
def traversable_temp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """PostgreSQL runs as its own system user when the tests run as root: every folder above a
    data folder must let it through. pytest makes its temporary folders 0700, and under xdist
    there is one more of them (popen-gwN)."""
    top = Path(tempfile.gettempdir()).resolve()
    folder = tmp_path_factory.getbasetemp().resolve()
    while folder != top and top in folder.parents:
        folder.chmod(folder.stat().st_mode | 0o011)
        folder = folder.parent


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


DEPLOYMENTS = ("browser", "e2e", "faults")  # tests that start whole deployments (`cchc up`)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (make test runs two workers), every test that starts a whole deployment
    (the browser tests share one `cchc up` and its world, the fault tests one deployment, the e2e
    tests one `cchc up` each) runs on one worker, one after another, while the other worker runs
    the integration and unit tests (the services in process, each test with its own database and
    NATS prefix). Two deployments at once would share 2 cores with a dozen processes each, and
    the free ports each one picks could collide. (xdist's own `xdist_group` mark is ignored under
    pytest 9: the node id it rewrites is no longer where the scheduler reads it.)"""
    from xdist.scheduler import LoadScopeScheduling

    class Layers(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            parts = nodeid.split("/")
            return "deployments" if len(parts) > 2 and parts[1] in DEPLOYMENTS else nodeid

    return Layers(config, log)
