"""What the hostile-input tests share: what a service left in its outbox (a refusal must leave
nothing there). Services with one of their limits changed: tests.integration.conftest.running."""

from __future__ import annotations

from sqlalchemy import func, select

from shared.db import system_scope
from tests.integration.conftest import System


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
