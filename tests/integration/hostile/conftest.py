"""What the hostile-input tests share: the services started with one of their limits changed, and
what a service left in its outbox (a refusal must leave nothing there)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import func, select

from shared.db import system_scope
from shared.settings import Settings
from tests.integration.conftest import DatabaseRoles, System


@contextlib.asynccontextmanager
async def started(settings: Settings, roles: DatabaseRoles, *names: str, **changes: Any) -> AsyncIterator[System]:
    """The services `names`, on the test's servers and database, with `changes` to their settings."""
    running = System(settings.model_copy(update=changes), roles=roles)
    try:
        for name in names:
            await running.start(name)
        yield running
    finally:
        for name in list(running.stacks):
            await running.stop(name)


async def outbox_rows(
    system: System, service: str = "plans", *, family: str | None = None, waiting: bool = False
) -> int:
    """The rows of `service`'s outbox (of one event family; only those not yet published)."""
    running = system.services[service]
    outbox = running.outbox
    query = select(func.count()).select_from(outbox)
    if family is not None:
        query = query.where(outbox.c.family == family)
    if waiting:
        query = query.where(outbox.c.published_at.is_(None))
    with system_scope():
        async with running.sessions() as session:
            return int((await session.execute(query)).scalar_one())
