"""The four services running in this process against real NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cchc.routes import service_for_path
from services.notify.app import create_service as notify_service
from services.plans.app import create_service as plans_service
from services.reports.app import create_service as reports_service
from services.tasks.app import create_service as tasks_service
from shared.clock import Clock, FixedClock
from shared.migrations import upgrade_all
from shared.runtime import Service
from shared.settings import Settings
from tests.servers import Servers

FACTORIES: dict[str, Callable[..., Service]] = {
    "plans": plans_service,
    "tasks": tasks_service,
    "notify": notify_service,
    "reports": reports_service,
}


# Tests run at a fixed instant: 08:00 on 10/02/2026, Vietnam time (2026-Q1 is under way).
TEST_NOW = datetime(2026, 2, 10, 1, 0, tzinfo=UTC)


@dataclass
class System:
    settings: Settings
    clock: Clock = field(default_factory=lambda: FixedClock(TEST_NOW))
    services: dict[str, Service] = field(default_factory=dict)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    apps: dict[str, Any] = field(default_factory=dict)
    stacks: dict[str, contextlib.AsyncExitStack] = field(default_factory=dict)

    async def start(self, name: str, *, clock: Clock | None = None, replica: str | None = None) -> Service:
        """Start a service; `replica` names a second instance of it (e.g. "notify-2")."""
        service = FACTORIES[name](self.settings, clock=clock or self.clock)
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

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.clients[service_for_path(path)].request(method, path, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def eventually(self, check: Callable[[], Any], *, timeout: float = 180.0) -> Any:  # noqa: ASYNC109
        """Poll an async check until it returns something truthy (events are asynchronous)."""
        deadline = asyncio.get_running_loop().time() + timeout
        last: Any = None
        while asyncio.get_running_loop().time() < deadline:
            last = await check()
            if last:
                return last
            await asyncio.sleep(0.1)
        raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


@pytest.fixture
async def settings(servers: Servers, database_url: str, nats_prefix: str) -> Settings:
    await asyncio.to_thread(upgrade_all, database_url)
    return Settings(
        nats_url=servers.nats_url,
        database_url=database_url,
        nats_prefix=nats_prefix,
        sweep_interval_seconds=0.3,
        outbox_poll_seconds=0.2,
        ack_wait_seconds=5,
        max_deliver=4,
    )


@pytest.fixture
async def system(settings: Settings) -> AsyncIterator[System]:
    running = System(settings)
    for name in FACTORIES:
        await running.start(name)
    try:
        yield running
    finally:
        for name in list(running.stacks):
            await running.stop(name)
