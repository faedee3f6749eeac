"""The four services running in this process against real NATS and PostgreSQL: each test gets
its own database (a copy of one migrated once per session) and its own NATS subject prefix."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from sqlalchemy import func, or_, select

from cchc.routes import service_for_path
from services.notify import models as notify_models
from services.notify.app import create_service as notify_service
from services.plans.app import create_service as plans_service
from services.reports.app import create_service as reports_service
from services.tasks.app import create_service as tasks_service
from shared import auth, sealing
from shared.access import EVERYWHERE, Right, Role
from shared.clock import Clock, FixedClock
from shared.db import plain_url
from shared.db_roles import ServiceRoles, drop_roles, provision, runtime_url
from shared.events import DEAD_LETTER, FAMILIES, stream_name
from shared.migrations import SERVICES
from shared.runtime import Service
from shared.settings import Settings
from tests.servers import Servers, database_url_for, new_database, unique_name

FACTORIES: dict[str, Callable[..., Service]] = {
    "plans": plans_service,
    "tasks": tasks_service,
    "notify": notify_service,
    "reports": reports_service,
}


# The key the tests sign tokens with, as the plans service does in production.
SIGNING_KEY = auth.new_signing_key()
GATEWAY_SECRET = "test-gateway-secret-" + SIGNING_KEY.kid  # type: ignore[operator]


@dataclass(frozen=True)
class Identity:
    """Who a test request is made as: a person of a unit with roles, or a machine client with
    rights. `token()` signs what a real login would give."""

    unit_path: str
    roles: tuple[Role, ...] = ()
    rights: tuple[Right, ...] | None = None
    name: str = ""
    subject: str = ""

    def token_subject(self) -> str:
        kind = "token" if self.rights is not None else "user"
        return self.subject or f"{kind}:test-{'-'.join(self.roles) or 'client'}-{self.unit_path}"

    def token(self) -> str:
        kind = "token" if self.rights is not None else "user"
        return auth.mint(
            SIGNING_KEY,
            subject=self.token_subject(),
            unit_path=self.unit_path,
            roles=self.roles,
            rights=self.rights,
            name=self.name,
            kind=kind,
            seconds=3600,
        )

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}


SECRETS_KEY = sealing.new_key()  # webhook secrets at rest

# What tests of behaviour (not of rights) act as: a national machine client with every right.
OPERATOR = Identity(EVERYWHERE, rights=tuple(Right), name="kiểm thử")


def officer(unit_path: str) -> Identity:
    return Identity(unit_path, (Role.officer,), name=f"cán bộ {unit_path}")


def head(unit_path: str) -> Identity:
    return Identity(unit_path, (Role.head,), name=f"lãnh đạo {unit_path}")


# Tests run at a fixed instant: 08:00 on 10/02/2026, Vietnam time (2026-Q1 is under way).
TEST_NOW = datetime(2026, 2, 10, 1, 0, tzinfo=UTC)


class Verbs:
    """get/post/put/patch/delete over the `request` of whoever has one."""

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)


@dataclass
class System(Verbs):
    settings: Settings
    clock: Clock = field(default_factory=lambda: FixedClock(TEST_NOW))
    services: dict[str, Service] = field(default_factory=dict)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    apps: dict[str, Any] = field(default_factory=dict)
    stacks: dict[str, contextlib.AsyncExitStack] = field(default_factory=dict)
    nats: NatsClient | None = None  # the test's own connection, to look at the streams
    roles: DatabaseRoles | None = None  # the services connect as their run-time roles (RLS applies)
    admin: asyncpg.Connection | None = None  # the test's own superuser connection

    async def start(self, name: str, *, clock: Clock | None = None, replica: str | None = None) -> Service:
        """Start a service; `replica` names a second instance of it (e.g. "notify-2")."""
        settings = self.settings
        if self.roles is not None and settings.database_url:
            settings = settings.model_copy(update={"database_url": self.roles.url(name, settings.database_url)})
        service = FACTORIES[name](settings, clock=clock or self.clock)
        app = service.build_app()
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
        )
        key = replica or name
        self.services[key], self.clients[key], self.stacks[key], self.apps[key] = service, client, stack, app
        return service

    async def stop(self, name: str) -> None:
        await self.stacks.pop(name).aclose()
        self.services.pop(name)
        self.clients.pop(name)
        self.apps.pop(name)

    async def request(
        self, method: str, path: str, *, as_: Identity | None = OPERATOR, **kwargs: Any
    ) -> httpx.Response:
        """A request to the owning service, as `as_` (None: with no credential at all)."""
        if as_ is not None:
            kwargs["headers"] = {**as_.headers(), **(kwargs.get("headers") or {})}
        return await self.clients[service_for_path(path)].request(method, path, **kwargs)

    def as_(self, who: Identity | None) -> Acting:
        return Acting(self, who)

    async def eventually(
        self,
        check: Callable[[], Any],
        *,
        timeout: float = 180.0,  # noqa: ASYNC109 - a polling deadline
        idle: float = 15.0,
    ) -> Any:
        """Poll an async check until it returns something truthy (events are asynchronous).
        Fails after `timeout` at the latest, and as soon as nothing has been in flight (see
        settled) for `idle` seconds while the check still fails: it then waits for something
        that is not coming. The sweeps' and deliveries' timers tick well within `idle`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: Any = None
        next_look, quiet_since = loop.time() + 1.0, None
        while loop.time() < deadline:
            last = await check()
            if last:
                return last
            now = loop.time()
            if now >= next_look:  # not on every poll: looking costs a dozen queries
                next_look = now + 1.0
                if await self._busy(transactions=False):  # a sweep's transaction is not progress
                    quiet_since = None
                elif quiet_since is None:
                    quiet_since = now
                elif now - quiet_since >= idle:
                    raise AssertionError(f"condition not met, nothing in flight for {idle}s; last value: {last!r}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")

    async def run_jobs(self, name: str) -> None:
        """Run each periodic job of a running service once, now: what its next tick would do
        (the sweeps of tasks; escalations, digests and deliveries of notify)."""
        service = self.services[name]
        for job in service.periodic:
            await service.run_job(job)

    async def settled(self, *, timeout: float = 180.0) -> None:  # noqa: ASYNC109 - a polling deadline (a loaded machine)
        """Wait until nothing is in flight: every running service's outbox is published, notify
        has no delivery due or being sent, no transaction is open on the test's database, and no
        consumer of the test's streams (a stopped service's too) has a message pending or
        unacknowledged. Whatever the events sent so far cause has then happened; what is left
        is what a timer or a clock would start (see run_jobs)."""
        deadline = asyncio.get_running_loop().time() + timeout
        busy: list[str] = []
        while asyncio.get_running_loop().time() < deadline:
            busy = await self._busy()
            if not busy:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"not settled within {timeout}s: {busy}")

    async def _busy(self, *, transactions: bool = True) -> list[str]:
        """What is in flight; consumers, then the database, then consumers again: an outbox row
        published between the first two looks shows in the third."""
        busy = await self._busy_consumers()
        if not busy:
            busy = await self._busy_tables(transactions=transactions)
        if not busy:
            busy = await self._busy_consumers()
        return busy

    async def _busy_consumers(self) -> list[str]:
        if self.nats is None:
            self.nats = await nats.connect(self.settings.nats_url)
        js, busy = self.nats.jetstream(), []
        for family in (*FAMILIES, DEAD_LETTER):
            try:
                consumers = await js.consumers_info(stream_name(self.settings.nats_prefix, family))
            except NotFoundError:
                continue
            busy += [
                f"{c.name}: {c.num_pending} pending, {c.num_ack_pending} unacked"
                for c in consumers
                if c.num_pending or c.num_ack_pending
            ]
        return busy

    async def _busy_tables(self, *, transactions: bool) -> list[str]:
        busy = []
        for key, service in self.services.items():
            async with service.sessions() as session:
                pending = (
                    await session.execute(
                        select(func.count()).select_from(service.outbox).where(service.outbox.c.published_at.is_(None))
                    )
                ).scalar_one()
                if pending:
                    busy.append(f"{key}: {pending} in the outbox")
                if service.name == "notify":
                    d = notify_models.deliveries
                    sending = (
                        await session.execute(
                            select(func.count())
                            .select_from(d)
                            .where(
                                d.c.status == "pending",
                                or_(d.c.next_attempt_at <= func.now(), d.c.locked_until > func.now()),
                            )
                        )
                    ).scalar_one()
                    if sending:
                        busy.append(f"{key}: {sending} deliveries due or being sent")
        if transactions and self.services:
            # as the superuser: a service's role sees only its own sessions' transactions
            if self.admin is None:
                self.admin = await asyncpg.connect(plain_url(self.settings.database_url or ""))
            open_ = await self.admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                " AND xact_start IS NOT NULL"
            )
            if open_:
                busy.append(f"{open_} transactions open on the database")
        return busy


@dataclass
class Acting(Verbs):
    """The system's HTTP API as one identity: `system.as_(officer("52.21787")).post(...)`."""

    system: System
    who: Identity | None

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.system.request(method, path, as_=self.who, **kwargs)


@dataclass(frozen=True)
class DatabaseRoles:
    """The session's database roles (shared/db_roles.py; cluster-wide, so named per session)."""

    prefix: str
    passwords_dir: Path

    def url(self, service: str, database_url: str) -> str:
        """The URL of `database_url`'s database as the service's run-time role."""
        password = (self.passwords_dir / f"postgres-{service}.password").read_text().strip()
        return runtime_url(database_url, ServiceRoles(service, self.prefix).runtime, password)


@pytest.fixture(scope="session")
async def database_roles(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DatabaseRoles]:
    roles = DatabaseRoles(unique_name("t"), tmp_path_factory.mktemp("pg-secrets"))
    yield roles
    await drop_roles(servers.database_url, SERVICES, prefix=roles.prefix)


@pytest.fixture(scope="session")
async def template_database(servers: Servers, database_roles: DatabaseRoles) -> AsyncIterator[str]:
    """One database migrated once for the session; each test gets a copy (CREATE DATABASE …
    TEMPLATE), which is much faster than running the four services' migrations again."""
    name = unique_name("tmpl_")
    admin = await asyncpg.connect(plain_url(servers.database_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        await asyncio.to_thread(
            provision,
            database_url_for(servers.database_url, name),
            passwords_dir=database_roles.passwords_dir,
            prefix=database_roles.prefix,
        )
        # a copy needs the template without connections: refuse any from now on
        await admin.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
        yield name
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE false')
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def database_url(servers: Servers, template_database: str) -> AsyncIterator[str]:
    """The test's own database, migrated: a copy of the session's template."""
    async with new_database(servers.database_url, template=template_database) as url:
        yield url


@pytest.fixture
async def settings(servers: Servers, database_url: str, nats_prefix: str) -> Settings:
    return Settings(
        nats_url=servers.nats_url,
        database_url=database_url,
        nats_prefix=nats_prefix,
        sweep_interval_seconds=0.3,
        outbox_poll_seconds=0.2,
        ack_wait_seconds=5,
        max_deliver=4,
        premature_wait_seconds=0,  # an event waiting for its owner's is parked after the last delivery
        # the services' roles are not superusers: they cannot use the reserved connection slots
        database_pool_size=3,
        auth_signing_key=auth.signing_pem(SIGNING_KEY),
        secrets_key=SECRETS_KEY,
        gateway_secret=GATEWAY_SECRET,
    )


@contextlib.asynccontextmanager
async def running(settings: Settings, roles: DatabaseRoles, *names: str, **changes: Any) -> AsyncIterator[System]:
    """The services `names` (all four by default) on the test's servers and database, with
    `changes` to their settings; stopped, and the test's own connections closed, at the end."""
    system = System(settings.model_copy(update=changes) if changes else settings, roles=roles)
    try:
        for name in names or FACTORIES:
            await system.start(name)
        yield system
    finally:
        # side by side: each stop drains its consumers, which waits for the fetch under way (≤ 1 s)
        stopped = await asyncio.gather(*(system.stop(name) for name in list(system.stacks)), return_exceptions=True)
        for error in stopped:
            if isinstance(error, BaseException):
                raise error
        if system.admin is not None:
            await system.admin.close()
        if system.nats is not None:
            await system.nats.close()


@pytest.fixture
async def system(settings: Settings, database_roles: DatabaseRoles) -> AsyncIterator[System]:
    async with running(settings, database_roles) as started:
        yield started
