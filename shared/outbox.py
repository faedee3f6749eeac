"""Transactional outbox and inbox.

A write and the events it causes commit together (outbox row in the same transaction); a relay
publishes pending rows to JetStream with Nats-Msg-Id = event id and marks them published after
the PubAck. Consumers claim each event id in their inbox in the same transaction as the effect,
so a redelivered or duplicated event is acknowledged without being applied twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    Uuid,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from shared import failpoints
from shared.errors import FieldProblem, InputError
from shared.events import Envelope, stream_name, subject
from shared.settings import Settings
from shared.uploads import megabytes

log = logging.getLogger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("subject", Text, nullable=False),
        Column("family", Text, nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index("outbox_pending", "seq", postgresql_where=text("published_at IS NULL")),
    )


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("subject", Text, nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


# Room kept under the nats-server's max_payload for the headers a message carries (trace context,
# Nats-Msg-Id, and on the dead-letter stream the original subject and the error).
HEADERS_ROOM = 16 * 1024


class EventTooLarge(InputError):
    """An event over its family's size limit. Refused where it is written, in the write's own
    transaction (413 at the API, nothing stored; the dead-letter stream for a handler's event),
    never left in the outbox for the relay to fail on at every pass."""

    def __init__(self, event_type: str, size: int, limit: int) -> None:
        message = (
            f"dữ liệu quá lớn: sự kiện {event_type} sẽ nặng {megabytes(size)}, vượt giới hạn "
            f"{megabytes(limit)} của hệ thống (CCHC_EVENT_MAX_BYTES); hãy chia nhỏ nội dung"
        )
        super().__init__([FieldProblem("body", message)], status=413)
        self.event_type, self.size, self.limit = event_type, size, limit


@dataclass
class EventLimits:
    """The largest event body (its JSON envelope) each family may publish: the setting, capped
    by what the nats-server accepts (its max_payload, known once connected)."""

    per_family: dict[str, int] = field(default_factory=dict)
    default: int = 512 * 1024
    server_max_payload: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EventLimits:
        return cls(per_family=dict(settings.event_max_bytes), default=settings.event_default_max_bytes)

    def configured(self, family: str) -> int:
        return self.per_family.get(family, self.default)

    def limit(self, family: str) -> int:
        limit = self.configured(family)
        if self.server_max_payload:
            limit = min(limit, self.server_max_payload - HEADERS_ROOM)
        return limit

    def largest(self) -> int:
        return max([self.default, *self.per_family.values()])


def outbox_row(envelope: Envelope, *, prefix: str, limits: EventLimits) -> dict[str, Any]:
    family = envelope.type.split(".", 1)[0]
    body = envelope.model_dump_json().encode()
    if len(body) > (limit := limits.limit(family)):
        log.error("event %s of %d bytes refused: over the %d bytes of its family", envelope.type, len(body), limit)
        raise EventTooLarge(envelope.type, len(body), limit)
    carrier: dict[str, str] = {}
    propagate.inject(carrier)  # the trace continues in whoever consumes the event
    return {
        "event_id": envelope.id,
        "subject": subject(prefix, envelope.type, envelope.unit),
        "family": family,
        "body": body,
        "headers": carrier,
    }


async def add(
    session: AsyncSession, outbox: Table, envelopes: list[Envelope], *, prefix: str, limits: EventLimits
) -> None:
    """Put the envelopes in the outbox of the caller's transaction; an event over its size limit
    raises EventTooLarge before anything is written."""
    if envelopes:
        rows = [outbox_row(e, prefix=prefix, limits=limits) for e in envelopes]
        await session.execute(insert(outbox), rows)


async def claim(session: AsyncSession, inbox: Table, event_id: uuid.UUID, subject_: str) -> bool:
    """True if this event was not handled before (the claim commits with the effect)."""
    result = await session.execute(
        insert(inbox).values(event_id=event_id, subject=subject_).on_conflict_do_nothing().returning(inbox.c.event_id)
    )
    return result.first() is not None


async def claim_many(session: AsyncSession, inbox: Table, events: list[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
    """The ids among `events` not handled before, claimed in one statement."""
    if not events:
        return set()
    claimed = dict(events)
    result = await session.execute(_claim_many(inbox), {"event_ids": list(claimed), "subjects": list(claimed.values())})
    return set(result.scalars().all())


@functools.cache
def _claim_many(inbox: Table) -> ReturningInsert[uuid.UUID]:
    """INSERT … SELECT FROM unnest(ids, subjects): one text whatever the batch's size, compiled
    and prepared once (a multi-row VALUES was compiled anew for each batch: 20 ms for 200)."""
    rows = (
        func.unnest(bindparam("event_ids", type_=ARRAY(Uuid)), bindparam("subjects", type_=ARRAY(Text)))
        .table_valued("event_id", "subject")
        .render_derived(name="claimed")
    )
    statement = insert(inbox).from_select(["event_id", "subject"], select(rows.c.event_id, rows.c.subject))
    return statement.on_conflict_do_nothing().returning(inbox.c.event_id)


class OutboxRelay:
    """Publishes committed outbox rows to JetStream, safe with several replicas: each pass locks up
    to 256 unpublished rows (SKIP LOCKED, so replicas take disjoint batches), publishes them
    concurrently and marks those JetStream acknowledged. Rows are taken in outbox order, but
    within a batch (and after a retry) they may reach the stream out of order: consumers must not
    rely on order between events (ARCHITECTURE.md); the message id lets JetStream drop a row
    published twice."""

    def __init__(self, *, engine: AsyncEngine, outbox: Table, broker: Any, prefix: str, poll: float) -> None:
        self.engine = engine
        self.outbox = outbox
        self.broker = broker
        self.prefix = prefix
        self.poll = poll
        self._wake = asyncio.Event()
        self._stopping = False
        self.published = 0
        # Families whose last publish failed, and when to try them again: a full stream (discard
        # new) or a refused message holds back its own family, never the others queued behind it.
        self.held: dict[str, tuple[float, float]] = {}  # family → (retry at, back-off)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                sent = await self.publish_pending()
            except Exception:  # the database or NATS is away: keep the rows, try again
                log.exception("outbox relay: publish failed, retrying")
                sent = 0
            if sent:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll)
            except TimeoutError:
                pass

    async def publish_pending(self, limit: int = 256) -> int:
        o = self.outbox
        now = time.monotonic()
        waiting = [family for family, (retry_at, _) in self.held.items() if retry_at > now]
        async with self.engine.begin() as conn:
            query = select(o.c.seq, o.c.event_id, o.c.subject, o.c.family, o.c.body, o.c.headers).where(
                o.c.published_at.is_(None)
            )
            if waiting:
                query = query.where(o.c.family.not_in(waiting))
            rows = (await conn.execute(query.order_by(o.c.seq).limit(limit).with_for_update(skip_locked=True))).all()
            if not rows:
                return 0
            results = await asyncio.gather(*(self._publish(row) for row in rows), return_exceptions=True)
            done = [row.seq for row, result in zip(rows, results, strict=True) if result is True]
            failed = {row.family: result for row, result in zip(rows, results, strict=True) if result is not True}
            if done:
                failpoints.hit("outbox.published")  # a crash here: the rows go out again, same ids
                await conn.execute(update(o).where(o.c.seq.in_(done)).values(published_at=func.now()))
        for family in {row.family for row in rows} - set(failed):
            self.held.pop(family, None)
        for family, error in failed.items():
            backoff = min(self.held.get(family, (0.0, 0.5))[1] * 2, 10.0)
            self.held[family] = (time.monotonic() + backoff, backoff)
            log.error(
                "outbox relay: %s events not published (stream full or away?), retry in %.0f s: %r",
                family,
                backoff,
                error,
            )
        self.published += len(done)
        return len(done)

    async def _publish(self, row: Any) -> bool:
        token = otel_context.attach(propagate.extract(row.headers))
        try:
            await self.broker.publish(
                row.body,
                row.subject,
                headers={"Nats-Msg-Id": str(row.event_id), "content-type": "application/json"},
                stream=stream_name(self.prefix, row.family),
                timeout=5.0,
            )
        finally:
            otel_context.detach(token)
        return True
