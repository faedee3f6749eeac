"""PostgreSQL roles and row-level security on a real server: each service's run-time role reaches
only its own schema, cannot change its tables' definitions, and sees only the rows of the
transaction's unit scope — none when no scope is set, all with "*" — even in a query that
forgets its WHERE; the scope never outlives its transaction on a pooled connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from sqlalchemy import text

from shared.db import make_engine, make_sessions, plain_url, scoped, system_scope
from shared.db_roles import ServiceRoles, provision
from shared.migrations import SERVICES, upgrade_all
from shared.nats_security import redact
from tests.integration.conftest import DatabaseRoles
from tests.servers import Servers, new_database

pytestmark = pytest.mark.integration

COMMUNE = "52.21787"
UNITS = ["52", COMMUNE, f"{COMMUNE}.KT", "52.217870", "48.22000"]  # 52.217870 only looks like it is under


async def as_role(database_roles: DatabaseRoles, service: str, database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(plain_url(database_roles.url(service, database_url)))


@pytest.fixture
async def seeded(database_url: str) -> AsyncIterator[dict[str, uuid.UUID]]:
    """One assignment (with a progress report, a notification, a read-model row) per unit of
    UNITS, written as the superuser (who is not subject to row-level security)."""
    admin = await asyncpg.connect(plain_url(database_url))
    ids = {}
    try:
        for path in UNITS:
            ids[path] = assignment = uuid.uuid4()
            code = path.rsplit(".", 1)[-1]
            await admin.execute(
                "INSERT INTO tasks.assignments (id, plan_id, plan_number, task_ref, task_title, unit_code, unit_path,"
                " unit_name, role, period, period_start, due)"
                " VALUES ($1, $2, '1/KH', '1', 'Tuyên truyền', $3, $4, $3, 'lead', '2026-Q1', $5, $6)",
                assignment,
                uuid.uuid4(),
                code,
                path,
                date(2026, 1, 1),
                date(2026, 3, 15),
            )
            await admin.execute(
                "INSERT INTO tasks.progress_reports (id, assignment_id, status, outputs, reported_at)"
                " VALUES ($1, $2, 'in_progress', '{}', now())",
                uuid.uuid4(),
                assignment,
            )
            await admin.execute(
                "INSERT INTO notify.notifications (id, dedup_key, unit_code, kind, subject_id, title, body, link,"
                " unit_path) VALUES ($1, $2, $3, 'due_soon', $4, 't', 'b', '/', $5)",
                uuid.uuid4(),
                f"k-{path}",
                code,
                assignment,
                path,
            )
            await admin.execute(
                "INSERT INTO reports.assignments (id, plan_id, task_ref, unit_code, unit_path, ancestors, period,"
                " period_start, period_end, due) VALUES ($1, $2, '1', $3, $4, $5, '2026-Q1', $6, $7, $8)",
                assignment,
                uuid.uuid4(),
                code,
                path,
                path.split("."),
                date(2026, 1, 1),
                date(2026, 3, 31),
                date(2026, 3, 15),
            )
        yield ids
    finally:
        await admin.close()


async def test_the_run_time_roles_are_neither_superusers_nor_owners_and_do_not_bypass_rls(
    database_url: str, database_roles: DatabaseRoles
) -> None:
    conn = await as_role(database_roles, "tasks", database_url)
    try:
        me = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        )
        assert tuple(me) == (False, False, False, False)
        owners = {
            r["tableowner"] for r in await conn.fetch("SELECT tableowner FROM pg_tables WHERE schemaname = 'tasks'")
        }
        assert owners == {ServiceRoles("tasks", database_roles.prefix).owner}
        forced = await conn.fetch(
            "SELECT relname FROM pg_class WHERE relnamespace = 'tasks'::regnamespace"
            " AND relrowsecurity AND relforcerowsecurity"
        )
        assert {r["relname"] for r in forced} == {"assignments", "progress_reports", "evidence_files"}
    finally:
        await conn.close()


async def test_the_tasks_role_cannot_read_the_plans_schema(database_url: str, database_roles: DatabaseRoles) -> None:
    conn = await as_role(database_roles, "tasks", database_url)
    try:
        for table in ("plans.plans", "plans.units", "notify.notifications", "reports.assignments"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for schema"):
                await conn.fetch(f"SELECT * FROM {table}")  # noqa: S608 - fixed names
    finally:
        await conn.close()


async def test_the_reports_role_cannot_write_the_tasks_schema(database_url: str, database_roles: DatabaseRoles) -> None:
    conn = await as_role(database_roles, "reports", database_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("INSERT INTO tasks.plans (plan_id, version) VALUES ($1, 1)", uuid.uuid4())
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM tasks.assignments")
    finally:
        await conn.close()


async def test_a_run_time_role_cannot_drop_alter_or_truncate_its_own_tables(
    database_url: str, database_roles: DatabaseRoles
) -> None:
    conn = await as_role(database_roles, "tasks", database_url)
    try:
        for statement in (
            "DROP TABLE tasks.assignments",
            "ALTER TABLE tasks.assignments ADD COLUMN x int",
            "ALTER TABLE tasks.assignments DISABLE ROW LEVEL SECURITY",
            "DROP POLICY unit_scope ON tasks.assignments",
            "TRUNCATE tasks.assignments",
            "CREATE TABLE tasks.mine (x int)",
            "UPDATE tasks.alembic_version SET version_num = '0001'",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()


async def _paths(sessions: object, table: str, scope: str | None) -> list[str]:
    with scoped(scope):
        async with sessions() as session:  # type: ignore[operator]
            rows = await session.execute(text(f"SELECT unit_path FROM {table}"))  # noqa: S608 - no WHERE, on purpose
            return sorted(rows.scalars())


async def test_a_query_without_where_sees_only_the_scopes_subtree(
    database_url: str, database_roles: DatabaseRoles, seeded: dict[str, uuid.UUID]
) -> None:
    for service, table in (
        ("tasks", "tasks.assignments"),
        ("notify", "notify.notifications"),
        ("reports", "reports.assignments"),
    ):
        engine = make_engine(database_roles.url(service, database_url), pool_size=1)
        sessions = make_sessions(engine)
        try:
            assert await _paths(sessions, table, COMMUNE) == [COMMUNE, f"{COMMUNE}.KT"], table
            assert await _paths(sessions, table, "52") == sorted(p for p in UNITS if p.startswith("52")), table
            assert await _paths(sessions, table, None) == [], table
            assert await _paths(sessions, table, "") == [], table
            assert await _paths(sessions, table, "*") == sorted(UNITS), table
        finally:
            await engine.dispose()


async def test_progress_is_guarded_through_its_assignment(
    database_url: str, database_roles: DatabaseRoles, seeded: dict[str, uuid.UUID]
) -> None:
    engine = make_engine(database_roles.url("tasks", database_url), pool_size=1)
    sessions = make_sessions(engine)
    try:
        with scoped(COMMUNE):
            async with sessions() as session:
                seen = set((await session.execute(text("SELECT assignment_id FROM tasks.progress_reports"))).scalars())
        assert seen == {seeded[COMMUNE], seeded[f"{COMMUNE}.KT"]}
        with system_scope():
            async with sessions() as session:
                count = (await session.execute(text("SELECT count(*) FROM tasks.progress_reports"))).scalar_one()
        assert count == len(UNITS)
    finally:
        await engine.dispose()


async def test_a_write_outside_the_scope_is_refused(
    database_url: str, database_roles: DatabaseRoles, seeded: dict[str, uuid.UUID]
) -> None:
    engine = make_engine(database_roles.url("tasks", database_url), pool_size=1)
    sessions = make_sessions(engine)
    try:
        with scoped(COMMUNE):
            async with sessions() as session, session.begin():
                moved = await session.execute(text("UPDATE tasks.assignments SET last_status = 'done'"))
                assert moved.rowcount == 2  # type: ignore[attr-defined]
            with pytest.raises(Exception, match="row-level security"):
                async with sessions() as session, session.begin():
                    await session.execute(
                        text("UPDATE tasks.assignments SET unit_path = '48.22000' WHERE id = :id"),
                        {"id": seeded[COMMUNE]},
                    )
    finally:
        await engine.dispose()


async def test_the_scope_does_not_outlive_its_transaction_on_a_pooled_connection(
    database_url: str, database_roles: DatabaseRoles, seeded: dict[str, uuid.UUID]
) -> None:
    engine = make_engine(database_roles.url("tasks", database_url), pool_size=1)
    engine.sync_engine.pool._max_overflow = 0  # one connection, reused  # noqa: SLF001
    sessions = make_sessions(engine)
    try:
        with system_scope():
            async with sessions() as session:
                pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                assert (await session.execute(text("SELECT count(*) FROM tasks.assignments"))).scalar_one() == len(
                    UNITS
                )
        async with sessions() as session:  # the same connection, nothing set this time
            assert (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one() == pid
            assert (await session.execute(text("SELECT current_setting('cchc.scope', true)"))).scalar_one() == ""
            assert (await session.execute(text("SELECT count(*) FROM tasks.assignments"))).scalar_one() == 0
        async with engine.connect() as conn:  # not even a bare connection, outside any session
            assert (await conn.execute(text("SELECT count(*) FROM tasks.assignments"))).scalar_one() == 0
    finally:
        await engine.dispose()


async def test_a_database_migrated_as_the_admin_is_handed_to_the_owner_roles(
    servers: Servers, database_roles: DatabaseRoles, tmp_path: Path
) -> None:
    """A deployment from before the roles: its tables belong to the admin; provisioning gives
    them (and what later migrations add) to each schema's owner, and the services' roles work."""
    async with new_database(servers.database_url) as url:
        await asyncio.to_thread(upgrade_all, url)
        urls = await asyncio.to_thread(
            provision, url, passwords_dir=database_roles.passwords_dir, prefix=database_roles.prefix
        )
        admin = await asyncpg.connect(plain_url(url))
        try:
            for service in SERVICES:
                owners = await admin.fetch("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = $1", service)
                assert [r["tableowner"] for r in owners] == [ServiceRoles(service, database_roles.prefix).owner]
        finally:
            await admin.close()
        for service, service_url in urls.items():
            assert urlsplit(service_url).password  # the service's own role, with its password …
            assert urlsplit(redact(service_url)).password == "***"  # … which a printed URL hides
            conn = await asyncpg.connect(plain_url(service_url))
            try:
                assert await conn.fetchval(f"SELECT count(*) FROM {service}.outbox") == 0  # noqa: S608
            finally:
                await conn.close()
