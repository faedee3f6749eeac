"""Rebuild the reports read model from the event streams, from scratch.

With the reports service stopped: empty the tables derived from events (units, successions,
plans, assignments, progress) and the inbox, and delete the service's durable consumers. When
the service starts again it declares its consumers anew; a new durable consumer delivers its
stream from the first message, so every event is applied again, in batches, and the numbers
come out the same (effects are idempotent and order-tolerant). Submissions are the service's
own records, not derived from events: they are kept, and so is the outbox.
"""

from __future__ import annotations

import nats
from nats.js.errors import NotFoundError
from sqlalchemy import text

from services.reports import models as m
from services.reports.handlers import SUBSCRIPTIONS
from shared.db import make_engine
from shared.settings import Settings

DERIVED = (m.units, m.successors, m.plans, m.plan_tasks, m.assignments, m.progress, m.inbox)


async def rebuild(settings: Settings) -> dict[str, int]:
    """Empty the read model and reset the consumers; returns the rows removed per table."""
    nats_url, database_url = settings.require_urls()
    engine = make_engine(database_url, pool_size=1)
    removed: dict[str, int] = {}
    try:
        async with engine.begin() as connection:
            for table in DERIVED:
                count = (await connection.execute(text(f"SELECT count(*) FROM {table.fullname}"))).scalar_one()
                removed[table.name] = int(count)
            names = ", ".join(table.fullname for table in DERIVED)
            await connection.execute(text(f"TRUNCATE {names}"))
    finally:
        await engine.dispose()
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        for sub in SUBSCRIPTIONS:
            try:
                await js.delete_consumer(sub.stream(settings.nats_prefix), sub.durable("reports"))
            except NotFoundError:
                pass  # never created, or already gone
    finally:
        await client.drain()
    return removed
