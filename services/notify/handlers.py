"""Event subscribers of the notify service: assignments, due-soon and overdue occurrences
become one in-app notification per (rule, occurrence, unit), and one delivery per contact of
the unit over its first channel."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import domain
from services.notify import models as m
from services.notify.rendering import Templates
from shared.bus import Handler, Subscription
from shared.events import AssignmentCreated, Envelope, OccurrenceDueSoon, OccurrenceOverdue
from shared.settings import Settings

CHANNELS = ("email", "webhook")


def delivery_key(event_id: uuid.UUID | None, notification_id: uuid.UUID, contact_id: uuid.UUID, channel: str) -> str:
    """Stable for a (triggering event, contact, channel): retries and re-drives reuse it."""
    return f"{event_id or notification_id}:{contact_id}:{channel}"


def usable(contact: Any, channel: str, settings: Settings) -> bool:
    """A contact row (or a delivery row joined with it) can be reached over `channel`."""
    if channel == "email":
        return bool(contact.email) and bool(settings.smtp_host)
    return bool(contact.webhook_url)


async def store(
    session: AsyncSession,
    note: domain.NewNotification,
    *,
    event_id: uuid.UUID,
    templates: Templates,
    settings: Settings,
) -> uuid.UUID | None:
    """The notification and its first deliveries; None if it existed already (a redelivery)."""
    rendered = templates.message(note.kind, note.context)
    created = (
        await session.execute(
            insert(m.notifications)
            .values(
                id=uuid.uuid4(),
                dedup_key=note.dedup_key,
                unit_code=note.unit_code,
                unit_path=note.unit_path,
                kind=note.kind,
                subject_id=note.subject_id,
                title=rendered.title,
                body=rendered.body,
                link=note.context["link"],
                event_id=event_id,
            )
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(m.notifications.c.id)
        )
    ).scalar_one_or_none()
    if created is None:
        return None
    c = m.contacts
    contacts = (await session.execute(select(c).where(c.c.unit_code == note.unit_code, c.c.active))).all()
    if not contacts:
        return created  # in-app only: no more work on this hot path
    rows = []
    now = (await session.execute(select(func.now()))).scalar_one()
    for contact in contacts:
        channel = next((ch for ch in contact.channels if usable(contact, ch, settings)), None)
        if channel is None:
            continue  # in-app only
        rows.append(
            {
                "id": uuid.uuid4(),
                "notification_id": created,
                "contact_id": contact.id,
                "channel": channel,
                "idempotency_key": delivery_key(event_id, created, contact.id, channel),
                "status": "pending",
                "next_attempt_at": domain.quiet_until(now, contact.quiet_start, contact.quiet_end),
            }
        )
    if rows:
        await session.execute(insert(m.deliveries).on_conflict_do_nothing(), rows)
    return created


def subscriptions(settings: Settings, templates: Templates) -> list[Subscription]:
    base_url = settings.public_url.rstrip("/")

    def handler(build: Callable[[Envelope], domain.NewNotification]) -> Handler:
        async def handle(session: AsyncSession, envelope: Envelope) -> list[Envelope]:
            await store(session, build(envelope), event_id=envelope.id, templates=templates, settings=settings)
            return []

        return handle

    rules: list[tuple[str, Callable[[Envelope], domain.NewNotification]]] = [
        (
            "assignment.created",
            lambda e: domain.assigned(AssignmentCreated.model_validate(e.payload), base_url=base_url),
        ),
        (
            "occurrence.overdue",
            lambda e: domain.overdue(OccurrenceOverdue.model_validate(e.payload), base_url=base_url),
        ),
        (
            "occurrence.due_soon",
            lambda e: domain.due_soon(OccurrenceDueSoon.model_validate(e.payload), base_url=base_url),
        ),
    ]
    return [Subscription(event_type, handler(build)) for event_type, build in rules]
