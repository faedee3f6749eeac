"""Event subscribers of the notify service: assignments and overdue occurrences reach the unit."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import domain
from services.notify import models as m
from shared.bus import Handler, Subscription
from shared.events import AssignmentCreated, Envelope, OccurrenceDueSoon, OccurrenceOverdue
from shared.settings import Settings


async def _store(session: AsyncSession, note: domain.NewNotification) -> None:
    await session.execute(
        insert(m.notifications)
        .values(
            id=uuid.uuid4(),
            dedup_key=note.dedup_key,
            unit_code=note.unit_code,
            kind=note.kind,
            subject_id=note.subject_id,
            title=note.title,
            body=note.body,
            link=note.link,
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"])
    )


def subscriptions(settings: Settings) -> list[Subscription]:
    base_url = settings.public_url.rstrip("/")

    def handler(build: Callable[[Envelope], domain.NewNotification]) -> Handler:
        async def handle(session: AsyncSession, envelope: Envelope) -> list[Envelope]:
            await _store(session, build(envelope))
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
