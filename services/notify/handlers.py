"""Event subscribers of the notify service: assignments, due-soon and overdue occurrences and
report decisions become one in-app notification per (rule, occurrence, unit), under the rules
in force for the plan and unit, and one delivery per contact of the unit over its first channel
(or a place in the unit's daily digest). Overdue occurrences also wait, as escalations, for
their grace period to end; a completed report, a cancellation or a new due date resolves them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import domain
from services.notify import models as m
from services.notify.rendering import Templates
from shared.bus import Subscription
from shared.clock import vn_date
from shared.events import (
    AssignmentCancelled,
    AssignmentCreated,
    Envelope,
    OccurrenceDueSoon,
    OccurrenceOverdue,
    ProgressReported,
    ReportReviewed,
)
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
    digest: bool = False,
) -> uuid.UUID | None:
    """The notification and its first deliveries; None if it existed already (a redelivery).
    A notification held for the unit's digest is in the inbox at once and sent with the digest."""
    rendered = templates.message(note.kind, note.context)
    plan_id = note.context.get("plan_id")
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
                plan_id=uuid.UUID(plan_id) if plan_id else None,
                context=note.context if digest else {},
                in_digest=digest,
            )
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(m.notifications.c.id)
        )
    ).scalar_one_or_none()
    if created is None or digest:
        return created
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


def defaults(settings: Settings) -> domain.Rules:
    return domain.Rules(due_soon_days=tuple(sorted(settings.due_soon_days, reverse=True)))


async def stored_rules(
    session: AsyncSession, *, unit_code: str | None, plan_id: uuid.UUID | None
) -> dict[str, dict[str, Any]]:
    """The rules a unit and a plan set themselves, by scope ("unit", "plan"); one indexed lookup."""
    r = m.rules
    wanted = []
    if unit_code:
        wanted.append(and_(r.c.scope == "unit", r.c.key == unit_code))
    if plan_id is not None:
        wanted.append(and_(r.c.scope == "plan", r.c.key == str(plan_id)))
    if not wanted:
        return {}
    return dict((await session.execute(select(r.c.scope, r.c.settings).where(or_(*wanted)))).all())


async def rules_for(
    session: AsyncSession, settings: Settings, *, unit_code: str, plan_id: uuid.UUID | None
) -> domain.Rules:
    """The rules in force: defaults, then the plan's, then the unit's."""
    found = await stored_rules(session, unit_code=unit_code, plan_id=plan_id)
    return defaults(settings).merged(found.get("plan"), found.get("unit"))


CANCELLED = dt.date.max  # a settled row for every due date of the assignment


async def settle(session: AsyncSession, assignment_id: uuid.UUID, due: dt.date, reason: str) -> None:
    """Remember that escalations of this occurrence are pointless (even before they exist) and
    resolve the pending ones."""
    await session.execute(
        insert(m.settled).values(assignment_id=assignment_id, due=due, reason=reason).on_conflict_do_nothing()
    )
    e = m.escalations
    await session.execute(
        update(e)
        .where(e.c.assignment_id == assignment_id, e.c.status == "pending")
        .values(status="resolved", resolution=reason)
    )


def is_settled(assignment_id: Any, due: Any) -> Any:
    s = m.settled
    return (
        select(s.c.reason)
        .where(s.c.assignment_id == assignment_id, s.c.due.in_([due, CANCELLED]))
        .limit(1)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class Notifier:
    """The event subscribers: which rule fires, for whom, under the rules in force."""

    settings: Settings
    templates: Templates

    @property
    def base_url(self) -> str:
        return self.settings.public_url.rstrip("/")

    async def _store(
        self, session: AsyncSession, note: domain.NewNotification, rules: domain.Rules, event_id: uuid.UUID
    ) -> uuid.UUID | None:
        return await store(
            session, note, event_id=event_id, templates=self.templates, settings=self.settings, digest=rules.digest
        )

    async def assignment(self, session: AsyncSession, envelope: Envelope) -> list[Envelope]:
        event = AssignmentCreated.model_validate(envelope.payload)
        created = envelope.type == "assignment.created"
        if not created:
            await self._follow(session, event)
        rules = await rules_for(session, self.settings, unit_code=event.unit.code, plan_id=event.plan_id)
        if rules.tells(event.role, "assigned"):
            note = (
                domain.assigned(event, base_url=self.base_url)
                if created
                else domain.changed(event, base_url=self.base_url)
            )
            await self._store(session, note, rules, envelope.id)
        return []

    async def _follow(self, session: AsyncSession, event: AssignmentCreated) -> None:
        """A pending escalation follows its assignment: to the successor when a merge moved it
        (the successor is now the one late); resolved when the due date moved."""
        e = m.escalations
        await session.execute(
            update(e)
            .where(e.c.assignment_id == event.assignment_id, e.c.status == "pending", e.c.due != event.due)
            .values(status="resolved", resolution="changed")
        )
        parent = domain.parent_of(event.unit.path)
        if parent is not None:
            await session.execute(
                update(e)
                .where(
                    e.c.assignment_id == event.assignment_id,
                    e.c.status == "pending",
                    e.c.due == event.due,
                    e.c.unit_code != event.unit.code,
                )
                .values(
                    unit_code=event.unit.code,
                    unit_path=event.unit.path,
                    parent_code=parent[0],
                    parent_path=parent[1],
                    context=domain.task_context(event, base_url=self.base_url),
                )
            )

    async def due_soon(self, session: AsyncSession, envelope: Envelope) -> list[Envelope]:
        event = OccurrenceDueSoon.model_validate(envelope.payload)
        rules = await rules_for(session, self.settings, unit_code=event.unit.code, plan_id=event.plan_id)
        if rules.tells(event.role, "due_soon") and event.lead_days in rules.due_soon_days:
            await self._store(session, domain.due_soon(event, base_url=self.base_url), rules, envelope.id)
        return []

    async def overdue(self, session: AsyncSession, envelope: Envelope) -> list[Envelope]:
        event = OccurrenceOverdue.model_validate(envelope.payload)
        rules = await rules_for(session, self.settings, unit_code=event.unit.code, plan_id=event.plan_id)
        note = domain.overdue(event, base_url=self.base_url)
        if rules.tells(event.role, "overdue"):
            await self._store(session, note, rules, envelope.id)
        parent = domain.parent_of(event.unit.path)
        if event.role != "lead" or parent is None:
            return []  # only the lead's report is expected; a province has no supervisor here
        # Whether and when the supervisor hears is the supervisor's rule (and the plan's), not
        # the late unit's: a commune cannot switch off its own escalation.
        above = await rules_for(session, self.settings, unit_code=parent[0], plan_id=event.plan_id)
        if not above.escalate:
            return []
        if (await session.execute(select(is_settled(event.assignment_id, event.due)))).scalar() is not None:
            return []  # done or cancelled before the overdue event arrived (the job checks again)
        await session.execute(
            insert(m.escalations)
            .values(
                assignment_id=event.assignment_id,
                due=event.due,
                unit_code=event.unit.code,
                unit_path=event.unit.path,
                parent_code=parent[0],
                parent_path=parent[1],
                plan_id=event.plan_id,
                context=note.context,
                escalate_on=domain.escalate_on(
                    event.due, above.escalate_after_days, noticed=vn_date(envelope.occurred_at)
                ),
                status="pending",
            )
            .on_conflict_do_nothing()
        )
        return []

    async def progress(self, session: AsyncSession, envelope: Envelope) -> list[Envelope]:
        event = ProgressReported.model_validate(envelope.payload)
        if event.status == "done":
            await settle(session, event.assignment_id, event.due, "done")
        return []

    async def cancelled(self, session: AsyncSession, envelope: Envelope) -> list[Envelope]:
        event = AssignmentCancelled.model_validate(envelope.payload)
        await settle(session, event.assignment_id, CANCELLED, "cancelled")
        return []

    async def reviewed(self, session: AsyncSession, envelope: Envelope) -> list[Envelope]:
        event = ReportReviewed.model_validate(envelope.payload)
        rules = await rules_for(session, self.settings, unit_code=event.unit.code, plan_id=None)
        note = domain.reviewed(event, accepted=envelope.type == "report.accepted", base_url=self.base_url)
        await self._store(session, note, rules, envelope.id)
        return []


def subscriptions(settings: Settings, templates: Templates) -> list[Subscription]:
    notifier = Notifier(settings, templates)
    return [
        Subscription("assignment.created", notifier.assignment),
        Subscription("assignment.updated", notifier.assignment),
        Subscription("assignment.cancelled", notifier.cancelled),
        Subscription("occurrence.due_soon", notifier.due_soon),
        Subscription("occurrence.overdue", notifier.overdue),
        Subscription("progress.reported", notifier.progress),
        Subscription("progress.corrected", notifier.progress),
        Subscription("report.accepted", notifier.reviewed),
        Subscription("report.returned", notifier.reviewed),
    ]
