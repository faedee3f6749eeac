"""PostgreSQL roles, one pair per service: `<prefix>_<service>_owner` owns the service's schema
and everything in it (NOLOGIN: migrations run as it with SET ROLE from the admin connection), and
`<prefix>_<service>` is the login the service runs as — not a superuser, not an owner,
NOBYPASSRLS — with USAGE on its own schema only and the table privileges it needs (default
privileges cover the tables later migrations add). So the tasks service cannot read `plans.*`,
cannot drop its own tables, and row-level security applies to it.

`provision` creates or updates the roles, hands the schemas (and whatever an earlier version made
in them as the admin) to their owners, migrates, grants, and returns each service's URL. The
run-time passwords live in files (0600) in a folder of the operator's: generated when missing,
sent to the server only as SCRAM verifiers, never printed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from shared.db import plain_url

DEFAULT_PREFIX = "cchc"
TABLE_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_RIGHTS = "USAGE, SELECT"


@dataclass(frozen=True)
class ServiceRoles:
    service: str
    prefix: str = DEFAULT_PREFIX

    @property
    def owner(self) -> str:
        return f"{self.prefix}_{self.service}_owner"

    @property
    def runtime(self) -> str:
        return f"{self.prefix}_{self.service}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def password_file(directory: Path, service: str) -> Path:
    return directory / f"postgres-{service}.password"


def read_or_create_password(directory: Path, service: str) -> str:
    """The run-time role's password from its file, made (random, mode 0600) when missing."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = password_file(directory, service)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    return password


def scram_verifier(password: str, *, iterations: int = 4096) -> str:
    """What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802), made here so that the
    password itself never travels in a statement the server might log."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored_key).decode()}:{b64(server_key).decode()}"


def runtime_url(admin_url: str, role: str, password: str) -> str:
    """The admin URL (same host, database and options) with the run-time role's credentials."""
    url = make_url(plain_url(admin_url)).set(username=role, password=password)
    return url.render_as_string(hide_password=False)


async def ensure_roles(conn: asyncpg.Connection, roles: ServiceRoles, password: str) -> None:
    """Create or update the service's two roles (cluster-wide; safe to run again)."""
    attributes = "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION"
    verifier = scram_verifier(password)  # base64 and '$:' only: safe inside a literal
    for name, extra in ((roles.owner, "NOLOGIN"), (roles.runtime, f"LOGIN NOINHERIT PASSWORD '{verifier}'")):
        exists = await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", name)
        if not exists:
            try:
                await conn.execute(f"CREATE ROLE {_ident(name)} {attributes} {extra}")
                continue
            except asyncpg.DuplicateObjectError:  # made by a concurrent run meanwhile
                pass
        await conn.execute(f"ALTER ROLE {_ident(name)} {attributes} {extra}")
    # the admin migrates as the owner (SET ROLE); a superuser could anyway, a CREATEROLE admin needs it
    is_member = await conn.fetchval("SELECT pg_has_role(current_user, $1, 'MEMBER')", roles.owner)
    if not is_member:
        await conn.execute(f"GRANT {_ident(roles.owner)} TO CURRENT_USER")


async def hand_schema_to_owner(conn: asyncpg.Connection, roles: ServiceRoles, schema: str) -> None:
    """The schema and everything in it belong to the owner role, also what an earlier version
    created as the admin (tables take their indexes and identity sequences along)."""
    owner = _ident(roles.owner)
    if await conn.fetchval("SELECT true FROM pg_namespace WHERE nspname = $1", schema):
        await conn.execute(f"ALTER SCHEMA {_ident(schema)} OWNER TO {owner}")
    else:
        await conn.execute(f"CREATE SCHEMA {_ident(schema)} AUTHORIZATION {owner}")
    rows = await conn.fetch(
        """SELECT c.relname, c.relkind::text AS relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
             AND pg_get_userbyid(c.relowner) <> $2
             AND NOT (c.relkind = 'S' AND EXISTS (
                 SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))""",
        schema,
        roles.owner,
    )
    kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
    for row in rows:
        await conn.execute(f"ALTER {kinds[row['relkind']]} {_ident(schema)}.{_ident(row['relname'])} OWNER TO {owner}")


async def grant_runtime(conn: asyncpg.Connection, roles: ServiceRoles, schema: str) -> None:
    """The run-time role may read and write the rows of its schema's tables, nothing more: no
    DDL, no TRUNCATE, no other schema; the migration history is read-only to it."""
    s, owner, runtime = _ident(schema), _ident(roles.owner), _ident(roles.runtime)
    database = await conn.fetchval("SELECT current_database()")
    statements = [
        f"GRANT CONNECT ON DATABASE {_ident(database)} TO {runtime}",
        f"REVOKE ALL ON SCHEMA {s} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {s} TO {runtime}",
        f"GRANT {TABLE_RIGHTS} ON ALL TABLES IN SCHEMA {s} TO {runtime}",
        f"GRANT {SEQUENCE_RIGHTS} ON ALL SEQUENCES IN SCHEMA {s} TO {runtime}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {s} GRANT {TABLE_RIGHTS} ON TABLES TO {runtime}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {s} GRANT {SEQUENCE_RIGHTS} ON SEQUENCES TO {runtime}",
    ]
    if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.alembic_version"):
        statements += [
            f"REVOKE ALL ON {s}.alembic_version FROM {runtime}",
            f"GRANT SELECT ON {s}.alembic_version TO {runtime}",
        ]
    for statement in statements:
        await conn.execute(statement)


async def _connect(admin_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(plain_url(admin_url))


async def prepare(admin_url: str, services: Iterable[str], *, prefix: str, passwords: dict[str, str]) -> None:
    conn = await _connect(admin_url)
    try:
        for service in services:
            roles = ServiceRoles(service, prefix)
            for attempt in range(5):  # roles are cluster-wide: another deployment may update them at once
                try:
                    await ensure_roles(conn, roles, passwords[service])
                    break
                except asyncpg.InternalServerError as exc:
                    if "concurrently" not in str(exc) or attempt == 4:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
            await hand_schema_to_owner(conn, roles, service)
    finally:
        await conn.close()


async def grant(admin_url: str, services: Iterable[str], *, prefix: str) -> None:
    conn = await _connect(admin_url)
    try:
        for service in services:
            await grant_runtime(conn, ServiceRoles(service, prefix), service)
    finally:
        await conn.close()


def provision(admin_url: str, *, passwords_dir: Path, prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """Roles, schemas, migrations (as each owner) and grants; returns each service's URL (its
    run-time role, with the password: give it only to that service). Sync: call it from a
    thread when a loop is running."""
    from shared.migrations import SERVICES, upgrade

    passwords = {service: read_or_create_password(passwords_dir, service) for service in SERVICES}
    asyncio.run(prepare(admin_url, SERVICES, prefix=prefix, passwords=passwords))
    for service in SERVICES:
        upgrade(service, admin_url, role=ServiceRoles(service, prefix).owner)
    asyncio.run(grant(admin_url, SERVICES, prefix=prefix))
    return {
        service: runtime_url(admin_url, ServiceRoles(service, prefix).runtime, passwords[service])
        for service in SERVICES
    }


async def drop_roles(admin_url: str, services: Iterable[str], *, prefix: str) -> None:
    """Remove the roles (tests): their databases must be dropped first; what they still hold
    elsewhere on this database is dropped with them."""
    conn = await _connect(admin_url)
    try:
        for service in services:
            roles = ServiceRoles(service, prefix)
            for name in (roles.runtime, roles.owner):
                if await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", name):
                    await conn.execute(f"DROP OWNED BY {_ident(name)}")
                    await conn.execute(f"DROP ROLE {_ident(name)}")
    finally:
        await conn.close()


def with_password(url: str, password: str | None) -> str:
    """The service's URL with the password of CCHC_DATABASE_PASSWORD(_FILE) (compose secrets),
    when the URL itself carries none."""
    if not password:
        return url
    parsed = make_url(plain_url(url))
    return url if parsed.password else parsed.set(password=password).render_as_string(hide_password=False)
