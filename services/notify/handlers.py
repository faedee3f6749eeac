"""Event subscribers of the notify service: assignments, due-soon and overdue occurrences and
report decisions become one in-app notification per (rule, occurrence, unit) under the rules in
force for the plan and unit (stored, with its deliveries or a place in the unit's digest, by
notifications.py). Overdue occurrences of a lead unit also wait, as escalations to the
supervising unit, for their grace period to end; a done report, a cancellation or a new due
date settles them — that record of settled occurrences is kept here."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import domain
from services.notify import models as m
from services.notify.notifications import store
from services.notify.rendering import Templates
from services.notify.rules import rules_for
from shared.bus import Subscription, on
from shared.clock import vn_date
from shared.events import (
    AssignmentCancelled,
    AssignmentCreated,
    Event,
    Meta,
    OccurrenceDueSoon,
    OccurrenceOverdue,
    ProgressReported,
    ReportReviewed,
)
from shared.settings import Settings

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
    """SQL: why the occurrence (assignment, due date) needs no escalation, or NULL."""
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

    async def assignment(self, session: AsyncSession, event: AssignmentCreated, meta: Meta) -> list[Event]:
        """assignment.created and assignment.updated."""
        created = meta.type == "assignment.created"
        if not created:
            await self._follow(session, event)
        rules = await rules_for(
            session, self.settings, unit_code=event.unit.code, plan_id=event.plan_id, unit_path=event.unit.path
        )
        if rules.tells(event.role, "assigned"):
            note = (
                domain.assigned(event, base_url=self.base_url)
                if created
                else domain.changed(event, base_url=self.base_url)
            )
            await self._store(session, note, rules, meta.id)
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
        above = domain.supervisor(event.unit.path)
        if above is not None:
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
                    parent_code=above.code,
                    parent_path=above.path,
                    context=domain.task_context(event, base_url=self.base_url),
                )
            )

    async def due_soon(self, session: AsyncSession, event: OccurrenceDueSoon, meta: Meta) -> list[Event]:
        rules = await rules_for(
            session, self.settings, unit_code=event.unit.code, plan_id=event.plan_id, unit_path=event.unit.path
        )
        if rules.tells(event.role, "due_soon") and event.lead_days in rules.due_soon_days:
            await self._store(session, domain.due_soon(event, base_url=self.base_url), rules, meta.id)
        return []

    async def overdue(self, session: AsyncSession, event: OccurrenceOverdue, meta: Meta) -> list[Event]:
        rules = await rules_for(
            session, self.settings, unit_code=event.unit.code, plan_id=event.plan_id, unit_path=event.unit.path
        )
        note = domain.overdue(event, base_url=self.base_url)
        if rules.tells(event.role, "overdue"):
            await self._store(session, note, rules, meta.id)
        supervisor = domain.supervisor(event.unit.path)
        if event.role != "lead" or supervisor is None:
            return []  # only the lead's report is expected; a province has no supervisor here
        # Whether and when the supervisor hears is the supervisor's rule (and the plan's), not
        # the late unit's: a commune cannot switch off its own escalation.
        above = await rules_for(
            session, self.settings, unit_code=supervisor.code, plan_id=event.plan_id, unit_path=supervisor.path
        )
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
                parent_code=supervisor.code,
                parent_path=supervisor.path,
                plan_id=event.plan_id,
                context=note.context,
                escalate_on=domain.escalate_on(event.due, above.escalate_after_days, noticed=vn_date(meta.occurred_at)),
                status="pending",
            )
            .on_conflict_do_nothing()
        )
        return []

    async def progress(self, session: AsyncSession, event: ProgressReported, meta: Meta) -> list[Event]:
        """progress.reported and progress.corrected: a done report settles a pending escalation."""
        if event.status == "done":
            await settle(session, event.assignment_id, event.due, "done")
        return []

    async def cancelled(self, session: AsyncSession, event: AssignmentCancelled, meta: Meta) -> list[Event]:
        await settle(session, event.assignment_id, CANCELLED, "cancelled")
        return []

    async def reviewed(self, session: AsyncSession, event: ReportReviewed, meta: Meta) -> list[Event]:
        """report.accepted and report.returned: the reporting unit is told."""
        rules = await rules_for(
            session, self.settings, unit_code=event.unit.code, plan_id=None, unit_path=event.unit.path
        )
        note = domain.reviewed(event, accepted=meta.type == "report.accepted", base_url=self.base_url)
        await self._store(session, note, rules, meta.id)
        return []


def subscriptions(settings: Settings, templates: Templates | None = None) -> list[Subscription]:
    """`templates`: the service's, already loaded and checked (else loaded from the settings)."""
    notifier = Notifier(settings, templates or Templates(settings.templates_dir))
    return [
        *on(notifier.assignment, "assignment.created", "assignment.updated"),
        *on(notifier.cancelled, "assignment.cancelled"),
        *on(notifier.due_soon, "occurrence.due_soon"),
        *on(notifier.overdue, "occurrence.overdue"),
        *on(notifier.progress, "progress.reported", "progress.corrected"),
        *on(notifier.reviewed, "report.accepted", "report.returned"),
    ]
