"""Real servers for the tests: URLs from the environment when set (CCHC_NATS_URL and
CCHC_DATABASE_URL), else testcontainers when a Docker engine answers, else the embedded servers
that `cchc up` uses. Each test then gets its own database and its own NATS subject prefix."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.db import plain_url
from shared.servers import EmbeddedNats, EmbeddedPostgres


@dataclass(frozen=True)
class Servers:
    nats_url: str
    database_url: str  # a server-level URL; tests create their own databases on it
    origin: str


def _docker_answers() -> bool:
    with contextlib.suppress(Exception):
        import docker

        return bool(docker.from_env(timeout=3).ping())
    return False


@contextlib.contextmanager
def real_servers() -> Iterator[Servers]:
    nats_url, database_url = os.environ.get("CCHC_NATS_URL"), os.environ.get("CCHC_DATABASE_URL")
    if nats_url and database_url:
        yield Servers(nats_url, database_url, "environment")
    elif _docker_answers():
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.waiting_utils import wait_for_logs
        from testcontainers.postgres import PostgresContainer

        with (
            PostgresContainer("postgres:16-alpine", driver=None) as pg,
            DockerContainer("nats:2.10").with_command("-js").with_exposed_ports(4222) as nats,
        ):
            wait_for_logs(nats, "Server is ready")
            url = f"nats://{nats.get_container_host_ip()}:{nats.get_exposed_port(4222)}"
            yield Servers(url, pg.get_connection_url(), "testcontainers")
    else:
        with tempfile.TemporaryDirectory(prefix="cchc-test-") as tmp:
            data = Path(tmp)
            data.chmod(0o755)
            nats, pg = EmbeddedNats(data), EmbeddedPostgres(data)
            try:
                nats.start()
                pg.start()
                yield Servers(nats.url, pg.url, "embedded")
            finally:
                pg.stop()
                nats.stop()


def unique_name(kind: str) -> str:
    return f"{kind}{uuid.uuid4().hex[:10]}"


def database_url_for(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url` (same user, same options)."""
    base, _, _ = plain_url(server_url).rpartition("/")
    query = ""
    if "?" in server_url:
        query = "?" + server_url.split("?", 1)[1]
    return f"{base}/{name}{query}"


@contextlib.asynccontextmanager
async def new_database(server_url: str, *, template: str | None = None) -> AsyncIterator[str]:
    """A database of its own, empty or a copy of `template`; dropped afterwards."""
    name = unique_name("t_")
    admin = await asyncpg.connect(plain_url(server_url))
    try:
        copy = f' TEMPLATE "{template}"' if template else ""
        for attempt in range(20):
            try:
                await admin.execute(f'CREATE DATABASE "{name}"{copy}')
                break
            except asyncpg.ObjectInUseError:
                # the template must have no connections while it is copied; PostgreSQL waits 5 s
                # for them to go, a copy made by a concurrent run may hold it a moment longer
                if attempt == 19:
                    raise
                await asyncio.sleep(0.25)
        yield database_url_for(server_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
