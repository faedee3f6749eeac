"""Fixtures shared by every test layer: the real servers, a fresh database, a NATS prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import nats
import pytest

from shared.db import plain_url
from shared.events import DEAD_LETTER, FAMILIES, stream_name
from tests.servers import Servers, real_servers, unique_name


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    with real_servers() as found:
        yield found


def _with_database(url: str, name: str) -> str:
    base, _, _ = plain_url(url).rpartition("/")
    query = ""
    if "?" in url:
        query = "?" + url.split("?", 1)[1]
    return f"{base}/{name}{query}"


@pytest.fixture
async def database_url(servers: Servers) -> AsyncIterator[str]:
    name = unique_name("t_")
    admin = await asyncpg.connect(plain_url(servers.database_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _with_database(servers.database_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


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
