"""JetStream plumbing in one place: streams and durable consumers declared and reconciled at
start-up, subscribers with explicit acks (ack after commit, nak with back-off on transient
errors, dead-letter after the last delivery or for a message that can never be handled).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faststream.nats.subscriber.usecases.stream_pull_subscriber as _pull_subscriber
from faststream import AckPolicy
from faststream.nats import AckPolicy as ServerAckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError
from opentelemetry import trace
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import outbox
from shared.events import DEAD_LETTER, FAMILIES, Envelope, stream_name
from shared.settings import Settings

log = logging.getLogger(__name__)

# faststream 0.7.8 suppresses nats.errors.TimeoutError around pull fetches, but nats-py 2.16
# raises the builtin TimeoutError when an idle fetch expires: every idle poll would crash the
# consume task and log an error. The builtin is a base class of both, so suppress that.
_pull_subscriber.TimeoutError = TimeoutError  # type: ignore[misc,assignment]
tracer = trace.get_tracer("cchc.bus")

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


def consumer_config(sub: Subscription, *, service: str, settings: Settings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=sub.durable(service),
        filter_subject=sub.filter_subject(settings.nats_prefix),
        ack_policy=ServerAckPolicy.EXPLICIT,
        max_deliver=settings.max_deliver,
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
) -> None:
    """Register a pull subscriber whose effect, inbox claim and outbox rows commit together."""
    prefix = settings.nats_prefix

    async def on_message(message: NatsMessage) -> None:
        raw = message.raw_message
        try:
            envelope = Envelope.model_validate_json(raw.data)
        except ValidationError as exc:
            await dead_letter(broker, prefix=prefix, service=service, msg=raw, reason=f"bad envelope: {exc}")
            await message.ack()
            return
        try:
            with tracer.start_as_current_span(
                f"{service} handle {sub.event_type}",
                attributes={"cchc.service": service, "cchc.event_id": str(envelope.id)},
            ):
                async with sessions() as session, session.begin():
                    if await outbox.claim(session, inbox, envelope.id, raw.subject):
                        caused = await sub.handle(session, envelope)
                        await outbox.add(session, outbox_, caused, prefix=prefix)
            after_commit()
            await message.ack()
        except (PermanentEventError, ValidationError) as exc:  # retrying cannot help: park it
            await dead_letter(broker, prefix=prefix, service=service, msg=raw, reason=str(exc))
            await message.ack()
        except Exception as exc:
            deliveries = raw.metadata.num_delivered
            if deliveries >= settings.max_deliver:
                await dead_letter(broker, prefix=prefix, service=service, msg=raw, reason=repr(exc))
                await message.ack()
            else:
                log.warning("%s: %s failed (delivery %d), will retry: %r", service, raw.subject, deliveries, exc)
                await message.nack(delay=min(0.5 * 2 ** (deliveries - 1), 30.0))

    broker.subscriber(
        sub.filter_subject(prefix),
        stream=JStream(sub.stream(prefix), declare=False),
        durable=sub.durable(service),
        config=consumer_config(sub, service=service, settings=settings),
        pull_sub=PullSub(batch_size=settings.fetch_batch, timeout=1.0),
        max_workers=settings.consumer_workers,  # effects are idempotent and order-tolerant
        ack_policy=AckPolicy.MANUAL,
        title=f"{service}: {sub.event_type}",
    )(on_message)
