"""JetStream plumbing in one place: streams and durable consumers declared and reconciled at
start-up, subscribers with explicit acks (ack after commit, nak with back-off on transient
errors, dead-letter after the last delivery or for a message that can never be handled).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import faststream.nats.subscriber.usecases.stream_pull_subscriber as _pull_subscriber
from faststream import AckPolicy, Context
from faststream.nats import AckPolicy as ServerAckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from faststream.nats.message import NatsBatchMessage as _NatsBatchMessage
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError
from opentelemetry import propagate, trace
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import outbox
from shared.events import DEAD_LETTER, FAMILIES, Envelope, stream_name, subject
from shared.settings import Settings

log = logging.getLogger(__name__)

# faststream 0.7.8 suppresses nats.errors.TimeoutError around pull fetches, but nats-py 2.16
# raises the builtin TimeoutError when an idle fetch expires: every idle poll would crash the
# consume task and log an error. The builtin is a base class of both, so suppress that.
_pull_subscriber.TimeoutError = TimeoutError  # type: ignore[misc,assignment]
tracer = trace.get_tracer("cchc.bus")
NatsBatchMessage = Annotated[_NatsBatchMessage, Context("message")]  # a fetched batch, in batch mode

# A handler applies one event inside the caller's transaction and returns the events it causes.
Handler = Callable[[AsyncSession, Envelope], Awaitable[list[Envelope]]]


class PermanentEventError(Exception):
    """An event that can never be applied (bad payload, impossible state): dead-letter it."""


@dataclass(frozen=True)
class Subscription:
    event_type: str  # e.g. "plan.issued"
    handle: Handler

    def durable(self, service: str) -> str:
        return f"{service}-{self.event_type.replace('.', '-')}"

    def filter_subject(self, prefix: str) -> str:
        return f"{prefix}.{self.event_type}.>"

    def stream(self, prefix: str) -> str:
        return stream_name(prefix, self.event_type.split(".", 1)[0])


def stream_configs(prefix: str) -> list[StreamConfig]:
    return [
        StreamConfig(
            name=stream_name(prefix, family),
            subjects=[f"{prefix}.{family}.>"],
            storage=StorageType.FILE,
            duplicate_window=120.0,
        )
        for family in (*FAMILIES, DEAD_LETTER)
    ]


async def ensure_streams(js: JetStreamContext, prefix: str) -> None:
    for config in stream_configs(prefix):
        try:
            await js.stream_info(config.name or "")
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)


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


async def dead_letter(broker: NatsBroker, *, prefix: str, service: str, msg: Any, reason: str) -> None:
    original = msg.subject
    await broker.publish(
        msg.data,
        f"{prefix}.{DEAD_LETTER}.{service}.{original}",
        headers={
            "Cchc-Original-Subject": original,
            "Cchc-Error": reason[:500],
            "Cchc-Deliveries": str(msg.metadata.num_delivered),
        },
        stream=stream_name(prefix, DEAD_LETTER),
    )
    log.error("dead-lettered %s after %d deliveries: %s", original, msg.metadata.num_delivered, reason)


async def undecoded(message: Any) -> Any:
    """faststream's decoder for our subscribers: none. The handlers validate the raw bytes
    themselves (`read` below), so a body that is not JSON, even one labelled
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
    batched: bool = False,
) -> None:
    """Register a pull subscriber whose effect, inbox claim and outbox rows commit together:
    per event, or (`batched`, for hot consumers) per fetched batch."""
    prefix = settings.nats_prefix

    async def park(raw: Any, reason: str) -> None:
        """Dead-letter, then ack; if the dead-letter publish fails, nak so nothing is dropped."""
        try:
            await dead_letter(broker, prefix=prefix, service=service, msg=raw, reason=reason)
        except Exception:
            log.exception("%s: could not dead-letter %s, will retry", service, raw.subject)
            await raw.nak(delay=5.0)
        else:
            await raw.ack()

    def read(raw: Any) -> Envelope | str:
        """The envelope, or why it can never be handled."""
        try:
            envelope = Envelope.model_validate_json(raw.data)
        except ValidationError as exc:
            return f"bad envelope: {exc}"
        # The server does not authenticate publishers: the unit comes from the subject, which
        # NATS permissions confine, and the envelope must agree with it.
        payload_unit = envelope.payload.get("unit")
        if raw.subject != subject(prefix, envelope.type, envelope.unit) or (
            isinstance(payload_unit, dict) and payload_unit.get("path") != envelope.unit
        ):
            return f"subject {raw.subject} does not match the event's unit {envelope.unit}"
        return envelope

    async def ack(raw: Any) -> None:
        # Committed: a failed ack only means a redelivery, which the inbox turns into a no-op.
        try:
            await raw.ack()
        except Exception:  # noqa: BLE001
            log.warning("%s: ack of %s failed after commit; the redelivery will be skipped", service, raw.subject)

    async def handle_one(raw: Any, envelope: Envelope) -> None:
        """One event in its own transaction, with its own ack, nak or dead-letter."""
        try:
            with tracer.start_as_current_span(
                f"{service} handle {sub.event_type}",
                attributes={"cchc.service": service, "cchc.event_id": str(envelope.id)},
            ):
                async with sessions() as session, session.begin():
                    if await outbox.claim(session, inbox, envelope.id, raw.subject):
                        caused = await sub.handle(session, envelope)
                        await outbox.add(session, outbox_, caused, prefix=prefix)
        except (PermanentEventError, ValidationError) as exc:  # retrying cannot help: park it
            await park(raw, str(exc))
            return
        except Exception as exc:
            deliveries = raw.metadata.num_delivered
            if is_outage(exc):  # the database or the bus is away: wait for it, however long
                log.warning("%s: %s waits for an outage (delivery %d): %r", service, raw.subject, deliveries, exc)
                await raw.nak(delay=min(0.5 * 2 ** min(deliveries - 1, 6), settings.ack_wait_seconds))
            elif deliveries >= settings.max_deliver:
                await park(raw, repr(exc))
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
        envelope = read(raw)
        if isinstance(envelope, str):
            await park(raw, envelope)
            return
        await handle_one(raw, envelope)

    async def on_batch(message: NatsBatchMessage) -> None:
        """A fetched batch in one transaction (one inbox insert, one commit), acked after the
        commit. If anything in it fails, each event is handled on its own, as in on_message,
        so one bad event costs the others a retry, never their effect."""
        good: list[tuple[Any, Envelope]] = []
        for raw in message.raw_message:
            envelope = read(raw)
            if isinstance(envelope, str):
                await park(raw, envelope)
            else:
                good.append((raw, envelope))
        if not good:
            return
        try:
            # The batch continues the trace of its first event and links the others' traces.
            parents = [propagate.extract(raw.headers or {}) for raw, _ in good]
            links = [
                trace.Link(c) for c in (trace.get_current_span(p).get_span_context() for p in parents[1:]) if c.is_valid
            ]
            with tracer.start_as_current_span(
                f"{service} handle {sub.event_type} ×{len(good)}",
                context=parents[0],
                links=links[:100],
                attributes={"cchc.service": service, "cchc.batch": len(good)},
            ):
                async with sessions() as session, session.begin():
                    fresh = await outbox.claim_many(session, inbox, [(e.id, raw.subject) for raw, e in good])
                    caused: list[Envelope] = []
                    for _, envelope in good:
                        if envelope.id in fresh:
                            fresh.discard(envelope.id)  # the same event twice in one batch: once
                            caused += await sub.handle(session, envelope)
                    await outbox.add(session, outbox_, caused, prefix=prefix)
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
            for raw, envelope in good:
                await handle_one(raw, envelope)
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
        pull_sub=PullSub(batch_size=settings.fetch_batch, timeout=1.0),
        max_workers=settings.consumer_workers,  # effects are idempotent and order-tolerant
        ack_policy=AckPolicy.MANUAL,
        decoder=undecoded,
        title=f"{service}: {sub.event_type}",
    )(on_message)
