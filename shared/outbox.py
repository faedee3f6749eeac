"""Transactional outbox and inbox.

A write and the events it causes commit together (outbox row in the same transaction); a relay
publishes pending rows to JetStream with Nats-Msg-Id = event id and marks them published after
the PubAck. Consumers claim each event id in their inbox in the same transaction as the effect,
so a redelivered or duplicated event is acknowledged without being applied twice.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import propagate, trace
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
    any_,
    bindparam,
    cast,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.dml import Insert, ReturningInsert

from shared import failpoints
from shared.errors import FieldProblem, InputError
from shared.events import Envelope, stream_name, subject
from shared.settings import Settings
from shared.uploads import megabytes

log = logging.getLogger(__name__)
tracer = trace.get_tracer("cchc.outbox")


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


def trace_carrier() -> dict[str, str]:
    """The current trace context as headers: the trace continues in whoever consumes the event."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def outbox_row(
    envelope: Envelope, *, prefix: str, limits: EventLimits, carrier: dict[str, str] | None = None
) -> dict[str, Any]:
    family = envelope.type.split(".", 1)[0]
    # the JSON as bytes straight from pydantic-core (model_dump_json's str, encoded again, cost as much)
    body = envelope.__pydantic_serializer__.to_json(envelope)
    if len(body) > (limit := limits.limit(family)):
        log.error("event %s of %d bytes refused: over the %d bytes of its family", envelope.type, len(body), limit)
        raise EventTooLarge(envelope.type, len(body), limit)
    return {
        "event_id": envelope.id,
        "subject": subject(prefix, envelope.type, envelope.unit),
        "family": family,
        "body": body,
        "headers": trace_carrier() if carrier is None else carrier,
    }


async def add(
    session: AsyncSession, outbox: Table, envelopes: list[Envelope], *, prefix: str, limits: EventLimits
) -> None:
    """Put the envelopes in the outbox of the caller's transaction, in one statement whatever
    their number (a plan's fan-out writes tens of thousands); an event over its size limit raises
    EventTooLarge before anything is written."""
    if not envelopes:
        return
    carrier = trace_carrier()  # one transaction, one trace context: read it once
    rows = [outbox_row(e, prefix=prefix, limits=limits, carrier=carrier) for e in envelopes]
    headers = json.dumps(carrier)
    await session.execute(
        _add(outbox),
        {
            "event_ids": [r["event_id"] for r in rows],
            "subjects": [r["subject"] for r in rows],
            "families": [r["family"] for r in rows],
            "bodies": [r["body"] for r in rows],
            "headers": [headers] * len(rows),
        },
    )


@functools.cache
def _add(outbox: Table) -> Insert:
    """INSERT … SELECT FROM unnest(arrays), in outbox order: one text, prepared once, for one row
    as for forty thousand (a multi-row VALUES or an executemany grows with the rows)."""
    rows = (
        func.unnest(
            bindparam("event_ids", type_=ARRAY(Uuid)),
            bindparam("subjects", type_=ARRAY(Text)),
            bindparam("families", type_=ARRAY(Text)),
            bindparam("bodies", type_=ARRAY(LargeBinary)),
            bindparam("headers", type_=ARRAY(Text)),
        )
        .table_valued("event_id", "subject", "family", "body", "headers", with_ordinality="n")
        .render_derived(name="added")
    )
    columns = [rows.c.event_id, rows.c.subject, rows.c.family, rows.c.body, cast(rows.c.headers, JSONB)]
    return insert(outbox).from_select(
        ["event_id", "subject", "family", "body", "headers"], select(*columns).order_by(rows.c.n)
    )


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


# Rows a relay pass publishes at most (all their PubAcks in flight at once), and how long it waits
# for the PubAcks: a row unanswered by then is published again, with the same message id.
BATCH = 1000
PUBACK_SECONDS = 5.0


class OutboxRelay:
    """Publishes committed outbox rows to JetStream, safe with several replicas: each pass locks up
    to BATCH unpublished rows (SKIP LOCKED, so replicas take disjoint batches), publishes them all
    with JetStream's asynchronous publish (every PubAck of the batch in flight together, not one
    request after another) and marks those JetStream acknowledged; a row refused or unanswered
    stays for a later pass. Rows are taken in outbox order, but within a batch (and after a retry)
    they may reach the stream out of order: consumers must not rely on order between events
    (ARCHITECTURE.md); the message id lets JetStream drop a row published twice."""

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
        self._js: tuple[Any, Any] | None = None  # (connection, its JetStream context)

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

    async def publish_pending(self, limit: int = BATCH) -> int:
        o = self.outbox
        now = time.monotonic()
        waiting = [family for family, (retry_at, _) in self.held.items() if retry_at > now]
        async with self.engine.begin() as conn:
            # the trace headers as text: a fan-out's rows share them, read once per pass (_PublishSpans)
            headers = cast(o.c.headers, Text).label("headers")
            query = select(o.c.seq, o.c.event_id, o.c.subject, o.c.family, o.c.body, headers).where(
                o.c.published_at.is_(None)
            )
            if waiting:
                query = query.where(o.c.family.not_in(waiting))
            rows = (await conn.execute(query.order_by(o.c.seq).limit(limit).with_for_update(skip_locked=True))).all()
            if not rows:
                return 0
            results = await self._publish(rows)
            done = [row.seq for row, error in zip(rows, results, strict=True) if error is None]
            failed = {row.family: error for row, error in zip(rows, results, strict=True) if error is not None}
            if done:
                failpoints.hit("outbox.published")  # a crash here: the rows go out again, same ids
                await conn.execute(_mark(o), {"seqs": done})
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

    def _jetstream(self) -> Any:
        """One JetStream context per connection: its asynchronous publishes share one reply
        subscription (in the service's own inbox, which its NATS user may read)."""
        connection = self.broker.connection
        if self._js is None or self._js[0] is not connection:
            self._js = (connection, connection.jetstream(publish_async_max_pending=2 * BATCH))
        return self._js[1]

    async def _publish(self, rows: Sequence[Any]) -> list[BaseException | None]:
        """Publish `rows` with their PubAcks in flight together; for each, None once JetStream
        acknowledged it, else what went wrong (refused, or no answer within PUBACK_SECONDS)."""
        js = self._jetstream()
        spans = _PublishSpans(rows, prefix=self.prefix)
        acks: list[asyncio.Future[Any]] = []
        for index, row in enumerate(rows):
            headers = {"Nats-Msg-Id": str(row.event_id), "content-type": "application/json", **spans.headers(index)}
            try:
                ack = await js.publish_async(
                    row.subject,
                    row.body,
                    headers=headers,
                    stream=stream_name(self.prefix, row.family),
                )  # no wait_stall: a pass never has more in flight than the context allows
            except Exception as exc:  # noqa: BLE001 — the connection is away: this row waits
                ack = asyncio.get_running_loop().create_future()
                ack.set_exception(exc)
            acks.append(ack)
        _, unanswered = await asyncio.wait(acks, timeout=PUBACK_SECONDS)
        for ack in unanswered:
            ack.cancel()  # frees its place; the row goes out again (same id) in a later pass
        results = [_outcome(ack) for ack in acks]
        spans.end(results)
        return results


def _outcome(ack: asyncio.Future[Any]) -> BaseException | None:
    if ack.cancelled():
        return TimeoutError(f"no PubAck within {PUBACK_SECONDS:.0f} s")
    return ack.exception()


@functools.cache
def _mark(outbox: Table) -> Any:
    """UPDATE … WHERE seq = ANY(:seqs): one text whatever the batch's size."""
    return (
        update(outbox)
        .where(outbox.c.seq == any_(bindparam("seqs", type_=ARRAY(BigInteger))))
        .values(published_at=func.now())
    )


def _event_type(subject_: str) -> str:
    return ".".join(subject_.split(".", 3)[1:3])


class _PublishSpans:
    """The relay's PRODUCER spans: one per trace and event type in a pass (a plan's fan-out is
    one span for its tens of thousands of messages, a report one for its event), each a child of
    the write that caused its events; the messages carry it on to their consumers."""

    def __init__(self, rows: Sequence[Any], *, prefix: str) -> None:
        # (the trace headers the write stored, as JSON text; the event type of <prefix>.<type>.<unit>)
        self.keys = [(row.headers, _event_type(row.subject)) for row in rows]
        groups: dict[tuple[str, str], list[Any]] = {}
        for key, row in zip(self.keys, rows, strict=True):
            groups.setdefault(key, []).append(row)
        self.spans: dict[tuple[str, str], tuple[trace.Span, dict[str, str]]] = {}
        for key, members in groups.items():
            one = len(members) == 1
            destination = members[0].subject if one else f"{prefix}.{key[1]}.>"
            attributes: dict[str, Any] = {
                "messaging.system": "nats",
                "messaging.destination.name": destination,
                "messaging.operation": "publish",
            }
            if not one:
                attributes["messaging.batch.message_count"] = len(members)
            span = tracer.start_span(
                f"{destination} publish",
                context=propagate.extract(json.loads(key[0] or "{}")),
                kind=trace.SpanKind.PRODUCER,
                attributes=attributes,
            )
            carried: dict[str, str] = {}
            propagate.inject(carried, context=trace.set_span_in_context(span))
            self.spans[key] = (span, carried)

    def headers(self, index: int) -> dict[str, str]:
        """The trace headers of the `index`-th row's message: its span's context."""
        return self.spans[self.keys[index]][1]

    def end(self, results: Sequence[BaseException | None]) -> None:
        for key, error in zip(self.keys, results, strict=True):
            if error is not None:
                self.spans[key][0].set_status(trace.Status(trace.StatusCode.ERROR, repr(error)))
        for span, _ in self.spans.values():
            span.end()
