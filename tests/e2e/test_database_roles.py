"""`cchc up` runs each service as its own database role, never as the admin, keeps their
passwords in files only the operator can read, and prints none of them."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from shared.db import plain_url
from shared.migrations import SERVICES
from tests.e2e.conftest import Running, start
from tests.servers import Servers

pytestmark = pytest.mark.e2e


@pytest.fixture
def system_up(
    data_dir: Path, up_env: dict[str, str], servers: Servers, database_url: str, nats_prefix: str
) -> Iterator[Running]:
    """`cchc up` on the test's own servers (embedded ones too), so the test can look at the
    database's sessions: an external PostgreSQL as far as `cchc up` knows."""
    env = {**up_env, "CCHC_NATS_URL": servers.nats_url, "CCHC_DATABASE_URL": database_url}
    env["CCHC_NATS_PREFIX"] = nats_prefix
    running = start(data_dir, env)
    try:
        yield running
    finally:
        running.stop()


async def test_each_service_connects_as_its_own_role_and_no_password_is_printed(
    system_up: Running, database_url: str
) -> None:
    expected = {f"cchc_{name}" for name in SERVICES}
    admin = await asyncpg.connect(plain_url(database_url))
    try:
        users: dict[str, bool] = {}
        for _ in range(100):  # every service holds a connection once its outbox relay has polled
            rows = await admin.fetch(
                "SELECT DISTINCT a.usename, r.rolsuper FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid"
                " WHERE a.datname = current_database() AND a.backend_type = 'client backend'"
                " AND a.pid <> pg_backend_pid()"
            )
            users = {r["usename"]: r["rolsuper"] for r in rows}
            if set(users) >= expected:
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    assert set(users) == expected, users
    assert not any(users.values())

    secrets = system_up.data_dir / "secrets" / "postgres"
    printed = system_up.output.read_text()
    for name in SERVICES:
        path = secrets / f"postgres-{name}.password"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().strip() not in printed
