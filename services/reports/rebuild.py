"""Rebuild the reports read model from the event streams, from scratch.

With the reports service stopped: empty the tables derived from events (units, successions,
plans, assignments, progress) and the inbox, and delete the service's durable consumers. When
the service starts again it declares its consumers anew; a new durable consumer delivers its
stream from the first message, so every event is applied again, in batches, and the numbers
come out the same (effects are idempotent and order-tolerant). Submissions are the service's
own records, not derived from events: they are kept, and so is the outbox.

The replay's checkpoint is the consumers' own: a batch is acked after its transaction commits,
and a durable consumer keeps its ack floor on the server. A replay interrupted (the service
stopped, killed, the machine restarted) resumes where it stopped when the service starts again;
what was applied and not yet acked comes again and the inbox skips it. `progress()` says how far
the replay is (`cchc rebuild-reports --watch` draws it as a bar).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from nats.js.errors import NotFoundError
from sqlalchemy import func, select, text

from services.reports import models as m
from services.reports.handlers import subscriptions
from shared import nats_security
from shared.bus import reconcile_consumers
from shared.db import make_engine
from shared.settings import Settings

DERIVED = (
    m.units,
    m.successors,
    m.plans,
    m.plan_tasks,
    m.assignments,
    m.progress,
    m.rollup_counts,  # the roll-ups' aggregates: the replay fills them again through the same handlers
    m.rollup_outputs,
    m.inbox,
)


class ServiceRunning(RuntimeError):
    """The reports service is still consuming: a rebuild under it would race its handlers."""


async def rebuild(settings: Settings, *, wait: float = 5.0) -> dict[str, int]:
    """Reset the consumers, then empty the read model; returns the rows removed per table.
    Consumers first: if emptying fails afterwards, running it again is safe, while emptying
    first and failing to reset would leave an empty model that never fills again."""
    _, database_url = settings.require_urls()
    client = await nats_security.connect(settings)  # with NATS users: as the operator
    try:
        js = client.jetstream()
        durables = [(sub.stream(settings.nats_prefix), sub.durable("reports")) for sub in subscriptions(settings)]
        deadline = asyncio.get_running_loop().time() + wait
        while True:  # a stopped service's last pull requests expire within its batch timeout
            busy = []
            for stream, durable in durables:
                with contextlib.suppress(NotFoundError):
                    if (await js.consumer_info(stream, durable)).num_waiting:
                        busy.append(durable)
            if not busy:
                break
            if asyncio.get_running_loop().time() > deadline:
                raise ServiceRunning(f"dịch vụ reports vẫn đang nhận sự kiện ({', '.join(busy)}); hãy dừng nó trước")
            await asyncio.sleep(0.5)
        for stream, durable in durables:
            with contextlib.suppress(NotFoundError):  # never created, or already gone
                await js.delete_consumer(stream, durable)
        if nats_security.strict(settings):  # the service's own user may not make them again
            await reconcile_consumers(js, subscriptions(settings), service="reports", settings=settings)
    finally:
        await client.drain()
    engine = make_engine(database_url, pool_size=1)
    removed: dict[str, int] = {}
    try:
        async with engine.begin() as connection:
            for table in DERIVED:
                count = (await connection.execute(text(f"SELECT count(*) FROM {table.fullname}"))).scalar_one()
                removed[table.name] = int(count)
            await connection.execute(text(f"TRUNCATE {', '.join(table.fullname for table in DERIVED)}"))
    finally:
        await engine.dispose()
    return removed


@dataclass(frozen=True)
class Progress:
    """How far the replay is: the events applied since the read model was emptied (the inbox's
    rows) and the messages its consumers have still to deliver or to see acked."""

    applied: int
    remaining: int
    consumers: int  # declared so far (0 until the service has started again)
    expected_consumers: int

    @property
    def started(self) -> bool:
        return self.consumers > 0

    @property
    def total(self) -> int:
        return self.applied + self.remaining

    @property
    def done(self) -> bool:
        return self.consumers == self.expected_consumers and self.remaining == 0


async def watch(settings: Settings, *, every: float = 1.0) -> AsyncGenerator[Progress, None]:
    """Where the replay stands, every `every` seconds until it is done (the last one yielded is
    done), read from the consumers and the inbox; the service runs meanwhile, or not yet."""
    _, database_url = settings.require_urls()
    subs = subscriptions(settings)
    client = await nats_security.connect(settings)
    engine = make_engine(database_url, pool_size=1)
    try:
        js = client.jetstream()
        while True:
            remaining = consumers = 0
            for sub in subs:
                with contextlib.suppress(NotFoundError):
                    info = await js.consumer_info(sub.stream(settings.nats_prefix), sub.durable("reports"))
                    consumers += 1
                    remaining += (info.num_pending or 0) + (info.num_ack_pending or 0)
            async with engine.connect() as connection:
                applied = (await connection.execute(select(func.count()).select_from(m.inbox))).scalar_one()
            now = Progress(applied=int(applied), remaining=remaining, consumers=consumers, expected_consumers=len(subs))
            yield now
            if now.done:
                return
            await asyncio.sleep(every)
    finally:
        await client.close()
        await engine.dispose()


async def progress(settings: Settings) -> Progress:
    """Where the replay stands now."""
    async with contextlib.aclosing(watch(settings)) as updates:
        async for now in updates:
            return now
    raise AssertionError("watch yields at least once")
