"""JetStream plumbing in one place: streams and durable consumers declared and reconciled at
start-up, subscribers with explicit acks (ack after commit, nak with back-off on transient
errors, dead-letter after the last delivery or for a message that can never be handled).

Handlers are typed: the bus decodes the payload by the event's type and calls
`handle(session, event, meta)` inside the transaction that claims the event in the inbox;
the handler returns the events it causes and the bus puts them, with their envelopes, in the
outbox of the same transaction. A hot consumer's subscription may also declare
`many(session, [(event, meta), …])`, the same effect for all of a fetched batch's fresh events
with set-based statements; the bus falls back to `handle`, one event at a time, when a batch fails.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import faststream.nats.subscriber.usecases.stream_pull_subscriber as _pull_subscriber
from faststream import AckPolicy, Context
from faststream.nats import AckPolicy as ServerAckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from faststream.nats.message import NatsBatchMessage as _NatsBatchMessage
from faststream.nats.opentelemetry.provider import telemetry_attributes_provider_factory
from faststream.nats.response import NatsPublishCommand
from faststream.opentelemetry.middleware import TelemetryMiddleware
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as Subscription_
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError
from opentelemetry import propagate, trace
from pydantic import BaseModel, ValidationError, create_model
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import drain, failpoints, nats_security, outbox, provenance
from shared.db import system_scope
from shared.dead_letters import DELIVERIES, ERROR, ORIGINAL_SUBJECT
from shared.events import (
    DEAD_LETTER,
    EVENT_TYPES,
    FAMILIES,
    READABLE_SCHEMA_VERSIONS,
    Envelope,
    Event,
    Meta,
    UnitRef,
    current_actor,
    stream_name,
    subject,
)
from shared.settings import Settings

log = logging.getLogger(__name__)

# faststream 0.7.8 suppresses nats.errors.TimeoutError around pull fetches, but nats-py 2.16
# raises the builtin TimeoutError when an idle fetch expires: every idle poll would crash the
# consume task and log an error. The builtin is a base class of both, so suppress that.
_pull_subscriber.TimeoutError = TimeoutError  # type: ignore[misc,assignment]
_next_msg = Subscription_.next_msg


async def _next_msg_ready_first(self: Subscription_, timeout: float | None = 1.0) -> Msg:  # noqa: ASYNC109 - its signature
    """nats-py's `next_msg` (how its pull `fetch` takes each message of a batch) makes a task, a
    uuid and a timer per message, even when the message is already queued, as a fetched batch's
    are: about a tenth of the batched consumer's CPU. A queued message is taken as next_msg would
    take it (its pending bytes counted off, the queue told it is done); else next_msg waits."""
    if not self._conn.is_closed and not self._cb:
        try:
            msg = self._pending_queue.get_nowait()
        except asyncio.QueueEmpty:
            pass
        else:
            self._pending_size -= len(msg.data)
            self._pending_queue.task_done()
            return msg
    return await _next_msg(self, timeout)


Subscription_.next_msg = _next_msg_ready_first  # type: ignore[method-assign]

tracer = trace.get_tracer("cchc.bus")
# A batch's span links the traces of a sample of its other events, this many at most, spread over
# the batch: reading the trace contexts of 100 events of each 200 cost 6 % of the consumer's CPU.
MAX_LINKS = 16
NatsBatchMessage = Annotated[_NatsBatchMessage, Context("message")]  # a fetched batch, in batch mode

# A handler applies one decoded event inside the caller's transaction and returns the events
# it causes: `async def handle(session, event: PlanIssued, meta: Meta) -> list[Event]`.
Handler = Callable[[AsyncSession, Any, Meta], Awaitable[Sequence[Event]]]
# A batch handler applies the fresh events of a fetched batch, in arrival order, as `Handler` would
# one after another: `async def handle_many(session, events: list[tuple[ProgressReported, Meta]])`.
BatchHandler = Callable[[AsyncSession, list[tuple[Any, Meta]]], Awaitable[Sequence[Event]]]


def telemetry() -> TelemetryMiddleware[NatsPublishCommand]:
    """faststream's tracing of what a service publishes and consumes (NatsTelemetryMiddleware),
    except a fetched batch: the bus gives a batch one span of its own, linking its events' traces,
    while faststream's would extract every event's trace context and baggage (per event on the
    hottest path: about an eighth of the batched consumer's CPU)."""
    return TelemetryMiddleware(settings_provider_factory=_traced_alone, include_messages_counters=True)


def _traced_alone(msg: Any) -> Any:
    """No telemetry settings (so no faststream span) for a fetched batch, a list of messages."""
    return None if isinstance(msg, list) else telemetry_attributes_provider_factory(msg)


class PermanentEventError(Exception):
    """An event that can never be applied (bad payload, impossible state): dead-letter it."""


class Premature(Exception):
    """An event that needs one its owner publishes first (the previous version, the submission
    a decision is on): retried, and dead-lettered after the last delivery if that never comes."""


@dataclass(frozen=True)
class Decoded:
    """A consumed message read and checked: the typed payload and its envelope's facts."""

    event: BaseModel
    meta: Meta


def decode(data: bytes, *, subject_: str, prefix: str) -> Decoded | str:
    """The typed event in a message, or why it can never be handled (then it is dead-lettered)."""
    return _decoded_at_once(data, subject_=subject_, prefix=prefix) or checked(data, subject_=subject_, prefix=prefix)


def checked(data: bytes, *, subject_: str, prefix: str) -> Decoded | str:
    """`decode` step by step: the envelope, then each check, then the payload by its type."""
    try:
        envelope = Envelope.model_validate_json(data)
    except ValidationError as exc:
        return f"bad envelope: {exc}"
    model = EVENT_TYPES.get(envelope.type)
    if model is None:
        return f"unknown event type {envelope.type!r}"
    if envelope.version not in READABLE_SCHEMA_VERSIONS:  # a newer producer's: its fields may mean something else
        return f"unknown schema version {envelope.version} of {envelope.type}"
    # The server does not authenticate publishers: only the family's owner publishes it (its
    # NATS user alone may), the unit comes from the subject, and the envelope must agree with it.
    wrong_producer = provenance.producer_problem(envelope.type, envelope.producer)
    if wrong_producer:
        return wrong_producer
    payload_unit = envelope.payload.get("unit")
    if subject_ != subject(prefix, envelope.type, envelope.unit) or (
        isinstance(payload_unit, dict) and payload_unit.get("path") != envelope.unit
    ):
        return f"subject {subject_} does not match the event's unit {envelope.unit}"
    try:
        event = model.model_validate(envelope.payload)
    except ValidationError as exc:
        return f"bad {envelope.type} payload: {exc}"
    disagreement = provenance.payload_problem(event, envelope.unit)
    if disagreement:
        return f"{envelope.type} on {subject_}: {disagreement}"
    return Decoded(event, Meta.of(envelope))


@functools.cache
def _typed_envelope(event_type: str) -> type[Envelope] | None:
    """The envelope of `event_type` with its payload typed, so one pass over the bytes validates
    both; for the types whose payload names its unit (a required `unit: UnitRef`), the only
    field besides the envelope's that `checked` compares with the subject."""
    model = EVENT_TYPES.get(event_type)
    if model is None or (unit := model.model_fields.get("unit")) is None or unit.annotation is not UnitRef:
        return None
    return create_model(f"{model.__name__}Envelope", __base__=Envelope, payload=(model, ...))


def _decoded_at_once(data: bytes, *, subject_: str, prefix: str) -> Decoded | None:
    """The hot events (progress, assignments) as `checked` decodes them, in one pass: the event
    type read from the subject, the envelope and its typed payload validated together, the same
    checks. None for anything else, or anything wrong: `checked` then says what (the same
    verdict as ever, and the same reasons)."""
    head = f"{prefix}."
    if not subject_.startswith(head):
        return None
    family, _, rest = subject_[len(head) :].partition(".")
    verb, _, _ = rest.partition(".")
    event_type = f"{family}.{verb}"
    typed = _typed_envelope(event_type)
    if typed is None:
        return None
    try:
        envelope = typed.model_validate_json(data)
    except ValidationError:
        return None
    event: Any = envelope.payload  # typed: the model of `event_type`
    if (
        envelope.type != event_type
        or envelope.version not in READABLE_SCHEMA_VERSIONS
        or provenance.producer_problem(event_type, envelope.producer)
        or subject_ != subject(prefix, event_type, envelope.unit)
        or event.unit.path != envelope.unit
        or provenance.payload_problem(event, envelope.unit)
    ):
        return None
    return Decoded(event, Meta.of(envelope))


def _accepted_types(handle: Handler) -> tuple[type, ...]:
    """The payload classes a handler's `event` parameter is annotated with."""
    target = handle.__func__ if inspect.ismethod(handle) else handle
    hints = typing.get_type_hints(target)
    params = [p for p in inspect.signature(target).parameters if p != "self"]
    if len(params) != 3:
        raise TypeError(f"{target.__qualname__} must take (session, event, meta)")
    annotation = hints.get(params[1])
    return typing.get_args(annotation) or (annotation,)  # a Union, or one class


@dataclass(frozen=True)
class Subscription:
    """One event type a service consumes and the typed handler that applies it."""

    event_type: str  # e.g. "plan.issued"
    handle: Handler
    many: BatchHandler | None = None  # the same effect for a batch's events at once (batched consumers)

    def __post_init__(self) -> None:
        # Wiring is checked when the service is built: the handler must accept this payload.
        model = EVENT_TYPES[self.event_type]
        if model not in _accepted_types(self.handle):
            raise TypeError(f"{self.handle.__qualname__} does not take {model.__name__} ({self.event_type})")

    def durable(self, service: str) -> str:
        return f"{service}-{self.event_type.replace('.', '-')}"

    def filter_subject(self, prefix: str) -> str:
        return f"{prefix}.{self.event_type}.>"

    def stream(self, prefix: str) -> str:
        return stream_name(prefix, self.event_type.split(".", 1)[0])


def on(handle: Handler, *event_types: str, many: BatchHandler | None = None) -> list[Subscription]:
    """`handle` (and `many` for a batch) for each of `event_types`: how every service declares
    what it consumes."""
    return [Subscription(event_type, handle, many) for event_type in event_types]


async def apply(sub: Subscription, session: AsyncSession, decoded: Decoded, *, service: str) -> list[Envelope]:
    """Run the handler and wrap the events it causes in envelopes of `service`; they carry the
    actor of the event handled (the person whose write set the chain going)."""
    token = current_actor.set(decoded.meta.actor)
    try:
        caused = await sub.handle(session, decoded.event, decoded.meta)
        return [event.envelope(service) for event in caused]
    finally:
        current_actor.reset(token)


async def apply_many(sub: Subscription, session: AsyncSession, batch: list[Decoded], *, service: str) -> list[Envelope]:
    """Run the batch handler (or the handler, event by event, if the subscription has none). What
    a batch handler causes carries the actor its events share, or none if they do not."""
    if sub.many is None:
        caused: list[Envelope] = []
        for decoded in batch:
            caused += await apply(sub, session, decoded, service=service)
        return caused
    actor = batch[0].meta.actor
    token = current_actor.set(actor if all(d.meta.actor == actor for d in batch) else None)
    try:
        return [event.envelope(service) for event in await sub.many(session, [(d.event, d.meta) for d in batch])]
    finally:
        current_actor.reset(token)


DAY = 24 * 3600.0
# Families no read model is rebuilt from: when full, their stream drops its oldest messages
# rather than refuse new ones (the audit trail is kept by the reports service's own table).
TRANSIENT_FAMILIES = frozenset({"audit"})


def stream_configs(prefix: str, settings: Settings) -> list[StreamConfig]:
    """Each family's stream and the dead-letter stream, with their limits: a message size per
    family (what the producer checks before writing, plus room for headers), bytes and age. A
    family stream refuses new events when full (its history is what the read models are rebuilt
    from; the relay holds back that family alone); the audit and dead-letter streams drop their
    oldest."""
    limits = outbox.EventLimits.from_settings(settings)
    families = [
        StreamConfig(
            name=stream_name(prefix, family),
            subjects=[f"{prefix}.{family}.>"],
            storage=StorageType.FILE,
            num_replicas=settings.stream_replicas or 1,
            duplicate_window=120.0,
            max_msg_size=limits.configured(family) + outbox.HEADERS_ROOM,
            max_bytes=settings.stream_max_bytes,
            max_age=settings.stream_max_age_days * DAY,
            discard=DiscardPolicy.OLD if family in TRANSIENT_FAMILIES else DiscardPolicy.NEW,
            # a site's or a hub's: what it takes from the other side of the leaf connections
            sources=settings.federation.sources(family) or None,
        )
        for family in FAMILIES
    ]
    dead_letters = StreamConfig(
        name=stream_name(prefix, DEAD_LETTER),
        subjects=[f"{prefix}.{DEAD_LETTER}.>"],
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas or 1,
        duplicate_window=120.0,
        # a letter is a family's message (headers included) plus the letter's own headers: one
        # refused here could not be parked and would be redelivered for ever
        max_msg_size=limits.largest() + 2 * outbox.HEADERS_ROOM,
        max_bytes=settings.dead_letter_max_bytes,
        max_age=settings.dead_letter_max_age_days * DAY,
        discard=DiscardPolicy.OLD,
    )
    return [*families, dead_letters]


class StreamLimitsRefused(RuntimeError):
    """The nats-server cannot reserve the streams' limits (its store is smaller than their sum)."""


async def ensure_streams(js: JetStreamContext, prefix: str, settings: Settings) -> None:
    for config in stream_configs(prefix, settings):
        try:
            try:
                existing = await js.stream_info(config.name or "")
            except NotFoundError:
                await js.add_stream(config)
            else:
                if settings.stream_replicas is None:  # not said: keep the copies it has
                    config.num_replicas = existing.config.num_replicas
                await js.update_stream(config)
        except APIError as exc:
            if exc.err_code != 10047:  # insufficient storage resources
                raise
            raise StreamLimitsRefused(
                f"JetStream không đủ chỗ lưu cho luồng {config.name} ({config.max_bytes} byte): giảm "
                "CCHC_STREAM_MAX_BYTES / CCHC_DEAD_LETTER_MAX_BYTES hoặc tăng max_file_store của nats-server "
                f"(JetStream cannot reserve the stream's max_bytes: {exc.description})"
            ) from exc


def is_outage(exc: BaseException) -> bool:
    """Errors that mean "a server is away", not "this event is bad": never dead-letter for them."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (InterfaceError, OperationalError)):
        return True
    original = getattr(exc, "orig", None) or exc
    cause = getattr(original, "__cause__", None)
    return any(
        isinstance(
            e,
            (
                OSError,
                TimeoutError,
                asyncpg.PostgresConnectionError,
                asyncpg.CannotConnectNowError,
                asyncpg.InterfaceError,
            ),
        )
        for e in (exc, original, cause)
        if e is not None
    )


def waits_for_its_owner(exc: BaseException, raw: Any, settings: Settings) -> bool:
    """A Premature event keeps being retried (every 30 s at most) until it is
    CCHC_PREMATURE_WAIT_SECONDS old, whatever its deliveries: what it needs may still sit in its
    owner's outbox, held back by an outage of the owner's database or of NATS and published in a
    burst, in any order, when it ends. Counting deliveries alone parked such events after 15 s
    (found by tests/faults: a plan.amended and a report.returned dead-lettered after NATS was
    cut for two minutes)."""
    if not isinstance(exc, Premature):
        return False
    stored = getattr(raw.metadata, "timestamp", None)
    if stored is None:
        return False
    age = (datetime.now(UTC) - stored).total_seconds()
    return age < settings.premature_wait_seconds


def consumer_config(sub: Subscription, *, service: str, settings: Settings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=sub.durable(service),
        filter_subject=sub.filter_subject(settings.nats_prefix),
        ack_policy=ServerAckPolicy.EXPLICIT,
        max_deliver=-1,  # outages are retried for as long as they last; bad events are parked by us
        ack_wait=settings.ack_wait_seconds,
        max_ack_pending=1000,
    )


async def reconcile_consumers(
    js: JetStreamContext, subs: list[Subscription], *, service: str, settings: Settings
) -> None:
    """Create or update each durable consumer so the code's settings are the server's."""
    for sub in subs:
        await js.add_consumer(
            sub.stream(settings.nats_prefix), consumer_config(sub, service=service, settings=settings)
        )


def sampled_links(raws: list[Any]) -> list[trace.Link]:
    """Links to the traces of at most MAX_LINKS of these messages, spread over them."""
    step = max(1, -(-len(raws) // MAX_LINKS))
    contexts = (trace.get_current_span(propagate.extract(raw.headers or {})).get_span_context() for raw in raws[::step])
    return [trace.Link(c) for c in contexts if c.is_valid]


def dead_letter_id(service: str, msg: Any) -> str:
    """The dead letter's message id: one per consuming service and stored message, so a message
    parked again after its ack was lost (a nats-server restarted before it kept the ack, a
    service killed between the park and the ack) is dropped by JetStream's de-dup window
    instead of being dead-lettered twice (found by tests/faults)."""
    return f"dlq-{service}-{msg.metadata.stream}-{msg.metadata.sequence.stream}"


async def dead_letter(broker: NatsBroker, *, prefix: str, service: str, msg: Any, reason: str) -> None:
    original = msg.subject
    await broker.publish(
        msg.data,
        f"{prefix}.{DEAD_LETTER}.{service}.{original}",
        headers={
            "Nats-Msg-Id": dead_letter_id(service, msg),
            ORIGINAL_SUBJECT: original,
            ERROR: reason[:500],
            DELIVERIES: str(msg.metadata.num_delivered),
        },
        stream=stream_name(prefix, DEAD_LETTER),
    )
    log.error("dead-lettered %s after %d deliveries: %s", original, msg.metadata.num_delivered, reason)


async def undecoded(message: Any) -> Any:
    """faststream's decoder for our subscribers: none. The bus validates the raw bytes itself
    (`decode`), so a body that is not JSON, even one labelled
    `application/json`, reaches the dead-letter queue instead of failing inside faststream
    before any handler runs and being redelivered forever (a poison message)."""
    return message.body


def attach(
    broker: NatsBroker,
    sub: Subscription,
    *,
    service: str,
    settings: Settings,
    sessions: async_sessionmaker,  # type: ignore[type-arg]
    inbox: Table,
    outbox_: Table,
    after_commit: Callable[[], None],
    limits: outbox.EventLimits,
    batched: bool = False,
) -> None:
    """Register a pull subscriber whose effect, inbox claim and outbox rows commit together:
    per event, or (`batched`, for hot consumers) per fetched batch."""
    prefix = settings.nats_prefix
    gate = drain.of(broker)  # on SIGTERM: what runs finishes, what was fetched is nak'd (shared/drain.py)

    async def park(raw: Any, reason: str) -> None:
        """Dead-letter, then ack; if the dead-letter publish fails, nak so nothing is dropped."""
        try:
            await dead_letter(broker, prefix=prefix, service=service, msg=raw, reason=reason)
        except Exception:
            log.exception("%s: could not dead-letter %s, will retry", service, raw.subject)
            await raw.nak(delay=5.0)
        else:
            await raw.ack()

    def read(raw: Any) -> Decoded | str:
        return decode(raw.data, subject_=raw.subject, prefix=prefix)

    async def ack(raw: Any) -> None:
        # Committed: a failed ack only means a redelivery, which the inbox turns into a no-op.
        try:
            await raw.ack()
        except Exception:  # noqa: BLE001
            log.warning("%s: ack of %s failed after commit; the redelivery will be skipped", service, raw.subject)

    async def handle_one(raw: Any, decoded: Decoded) -> None:
        """One event in its own transaction, with its own ack, nak or dead-letter."""
        try:
            with tracer.start_as_current_span(
                f"{service} handle {sub.event_type}",
                attributes={"cchc.service": service, "cchc.event_id": str(decoded.meta.id)},
            ):
                # consumers span units by nature: every unit is in scope (row-level security)
                with system_scope():
                    async with sessions() as session, session.begin():
                        if await outbox.claim(session, inbox, decoded.meta.id, raw.subject):
                            caused = await apply(sub, session, decoded, service=service)
                            await outbox.add(session, outbox_, caused, prefix=prefix, limits=limits)
                            failpoints.hit("consumer.applied")  # a crash here: rolled back, redelivered
        except (PermanentEventError, ValidationError, outbox.EventTooLarge) as exc:  # retrying cannot help: park it
            await park(raw, str(exc))
            return
        except Exception as exc:
            deliveries = raw.metadata.num_delivered
            if is_outage(exc):  # the database or the bus is away: wait for it, however long
                log.warning("%s: %s waits for an outage (delivery %d): %r", service, raw.subject, deliveries, exc)
                await raw.nak(delay=min(0.5 * 2 ** min(deliveries - 1, 6), settings.ack_wait_seconds))
            elif deliveries >= settings.max_deliver and not waits_for_its_owner(exc, raw, settings):
                await park(raw, str(exc) if isinstance(exc, Premature) else repr(exc))
            else:
                log.warning(
                    "%s: %s failed (delivery %d), will retry: %r", service, raw.subject, deliveries, exc, exc_info=True
                )
                await raw.nak(delay=min(0.5 * 2 ** (deliveries - 1), 30.0))
            return
        after_commit()
        await ack(raw)

    async def on_message(message: NatsMessage) -> None:
        raw = message.raw_message
        if not await gate.admit([raw]):
            return
        await gate.run([raw], handle_raw(raw))

    async def handle_raw(raw: Any) -> None:
        decoded = read(raw)
        if isinstance(decoded, str):
            await park(raw, decoded)
            return
        await handle_one(raw, decoded)

    # faststream's pull loop fetches the next batch only when on_batch returns: on_batch hands its
    # batch to a task and returns, so the next batch is fetched while this one waits on PostgreSQL.
    # The next starts when this one has committed and acked: one batch at a time, in order.
    under_way: list[asyncio.Future[None]] = []

    async def on_batch(message: NatsBatchMessage) -> None:
        raws = message.raw_message
        if under_way:
            await asyncio.wait({under_way.pop()})
        if not await gate.admit(raws):
            return
        batch = asyncio.ensure_future(gate.run(raws, handle_batch(raws)))
        batch.add_done_callback(report_failure)
        under_way.append(batch)

    def report_failure(batch: asyncio.Future[None]) -> None:
        if not batch.cancelled() and (exc := batch.exception()) is not None:  # handle_batch settles its errors
            log.error("%s: batch of %s failed: %r", service, sub.event_type, exc, exc_info=exc)

    async def handle_batch(raws: list[Any]) -> None:
        """A fetched batch in one transaction (one inbox insert, the batch handler's set-based
        statements, one commit), acked after the commit. If anything in it fails, each event is
        handled on its own, as in on_message, so one bad event costs the others a retry, never
        their effect."""
        good: list[tuple[Any, Decoded]] = []
        for raw in raws:
            decoded = read(raw)
            if isinstance(decoded, str):
                await park(raw, decoded)
            else:
                good.append((raw, decoded))
        if not good:
            return
        try:
            # The batch continues the trace of its first event and links a sample of the others'
            # traces: the span is per batch, nothing is traced per event.
            parent = propagate.extract(good[0][0].headers or {})
            links = sampled_links([raw for raw, _ in good[1:]])
            with tracer.start_as_current_span(
                f"{service} handle {sub.event_type} ×{len(good)}",
                context=parent,
                links=links,
                attributes={"cchc.service": service, "cchc.batch": len(good)},
            ):
                with system_scope():
                    async with sessions() as session, session.begin():
                        fresh = await outbox.claim_many(session, inbox, [(d.meta.id, raw.subject) for raw, d in good])
                        todo: list[Decoded] = []
                        for _, decoded in good:
                            if decoded.meta.id in fresh:
                                fresh.discard(decoded.meta.id)  # the same event twice in one batch: once
                                todo.append(decoded)
                        caused = await apply_many(sub, session, todo, service=service) if todo else []
                        await outbox.add(session, outbox_, caused, prefix=prefix, limits=limits)
                        failpoints.hit("consumer.batch_applied")  # a crash here: the whole batch again
        except Exception as exc:  # noqa: BLE001 — sorted out one by one below
            if is_outage(exc):  # the database or the bus is away: the whole batch waits for it
                log.warning("%s: batch of %d %s waits for an outage: %r", service, len(good), sub.event_type, exc)
                for raw, _ in good:
                    deliveries = raw.metadata.num_delivered
                    await raw.nak(delay=min(0.5 * 2 ** min(deliveries - 1, 6), settings.ack_wait_seconds))
                return
            log.info(
                "%s: batch of %d %s failed (%r); handling them one by one", service, len(good), sub.event_type, exc
            )
            for raw, decoded in good:
                await handle_one(raw, decoded)
            return
        after_commit()
        for raw, _ in good:
            await ack(raw)

    if batched:
        broker.subscriber(
            sub.filter_subject(prefix),
            stream=JStream(sub.stream(prefix), declare=False),
            durable=sub.durable(service),
            config=consumer_config(sub, service=service, settings=settings),
            inbox_prefix=nats_security.subscriber_inbox(settings),
            # a batch is handed over when full or after the timeout: the latency an event can wait
            pull_sub=PullSub(batch_size=settings.consumer_batch, timeout=settings.batch_timeout_seconds, batch=True),
            max_workers=1,  # faststream hands over batches only without concurrent workers
            ack_policy=AckPolicy.MANUAL,
            decoder=undecoded,
            title=f"{service}: {sub.event_type}",
        )(on_batch)
        return
    broker.subscriber(
        sub.filter_subject(prefix),
        stream=JStream(sub.stream(prefix), declare=False),
        durable=sub.durable(service),
        config=consumer_config(sub, service=service, settings=settings),
        inbox_prefix=nats_security.subscriber_inbox(settings),  # the only inbox its NATS user may read
        pull_sub=PullSub(batch_size=settings.fetch_batch, timeout=1.0),
        max_workers=settings.consumer_workers,  # effects are idempotent and order-tolerant
        ack_policy=AckPolicy.MANUAL,
        decoder=undecoded,
        title=f"{service}: {sub.event_type}",
    )(on_message)
