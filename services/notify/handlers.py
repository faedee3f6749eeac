"""Event subscribers of the notify service: assignments, due-soon and overdue occurrences and
report decisions become one in-app notification per (rule, occurrence, unit) under the rules in
force for the plan and unit (stored, with its deliveries or a place in the unit's digest, by
notifications.py). Overdue occurrences of a lead unit also wait, as escalations to the
supervising unit, for their grace period to end; a done report, a cancellation or a new due
date settles them — that record of settled occurrences is kept here."""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, Text, Uuid, any_, bindparam, cast, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import domain
from services.notify import models as m
from services.notify.notifications import Pending, arrays_of, store_many, unnested
from services.notify.rendering import Templates
from services.notify.rules import RuleKey, rule_key, rules_for, rules_for_many
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
    UnitRef,
)
from shared.federation import Federation
from shared.settings import Settings

CANCELLED = dt.date.max  # a settled row for every due date of the assignment


async def settle(session: AsyncSession, assignment_id: uuid.UUID, due: dt.date, reason: str) -> None:
    """Remember that escalations of this occurrence are pointless (even before they exist) and
    resolve the pending ones."""
    await settle_many(session, [(assignment_id, due)], reason)


async def settle_many(session: AsyncSession, occurrences: list[tuple[uuid.UUID, dt.date]], reason: str) -> None:
    """`settle` for a batch's occurrences (assignment, due date), for one reason: two statements
    whatever their number, rows in key order."""
    if not occurrences:
        return
    keys = sorted(set(occurrences))
    await session.execute(
        _SETTLE, {"assignment_id": [a for a, _ in keys], "due": [due for _, due in keys], "reason": reason}
    )
    await session.execute(_RESOLVE, {"assignment_ids": sorted({a for a, _ in keys}), "reason": reason})


def _settle() -> Any:
    batch = unnested({"assignment_id": Uuid, "due": Date})
    rows = select(batch.c.assignment_id, batch.c.due, bindparam("reason", type_=Text))
    return insert(m.settled).from_select(["assignment_id", "due", "reason"], rows).on_conflict_do_nothing()


_SETTLE = _settle()
_RESOLVE = (
    update(m.escalations)
    .where(
        m.escalations.c.assignment_id == any_(bindparam("assignment_ids", type_=ARRAY(Uuid))),
        m.escalations.c.status == "pending",
    )
    .values(status="resolved", resolution=bindparam("reason", type_=Text))
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


def escalation(
    event: OccurrenceOverdue, supervisor: UnitRef, note: domain.NewNotification, escalate_on: dt.date
) -> dict[str, Any]:
    """The row of an overdue occurrence waiting for the supervising unit to be told."""
    return {
        "assignment_id": event.assignment_id,
        "due": event.due,
        "unit_code": event.unit.code,
        "unit_path": event.unit.path,
        "parent_code": supervisor.code,
        "parent_path": supervisor.path,
        "plan_id": event.plan_id,
        "context": json.dumps(note.context),
        "escalate_on": escalate_on,
    }


async def wait_to_escalate(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Pending escalations, in one statement: one per occurrence (the first of a batch, or the one
    stored before: a redelivery), none for an occurrence done or cancelled before the overdue event
    arrived (the job checks again)."""
    first: dict[tuple[uuid.UUID, dt.date], dict[str, Any]] = {}
    for row in rows:
        first.setdefault((row["assignment_id"], row["due"]), row)
    if first:
        ordered = [first[key] for key in sorted(first)]
        await session.execute(_WAIT_TO_ESCALATE, arrays_of(ordered, _ESCALATION_COLUMNS))


_ESCALATION_COLUMNS: dict[str, Any] = {
    "assignment_id": Uuid,
    "due": Date,
    "unit_code": Text,
    "unit_path": Text,
    "parent_code": Text,
    "parent_path": Text,
    "plan_id": Uuid,
    "context": Text,  # JSON text, cast below
    "escalate_on": Date,
}


def _wait_to_escalate() -> Any:
    """INSERT … SELECT FROM unnest(arrays): one text whatever the batch's size."""
    batch = unnested(_ESCALATION_COLUMNS)
    values = [cast(batch.c[name], JSONB) if name == "context" else batch.c[name] for name in _ESCALATION_COLUMNS]
    rows = select(*values, literal("pending").label("status")).where(
        is_settled(batch.c.assignment_id, batch.c.due).is_(None)
    )
    statement = insert(m.escalations).from_select([*_ESCALATION_COLUMNS, "status"], rows)
    return statement.on_conflict_do_nothing()


_WAIT_TO_ESCALATE = _wait_to_escalate()


Many = list[tuple[Any, Meta]]  # a fetched batch's fresh events, in arrival order


def for_unit(unit: UnitRef, plan_id: uuid.UUID | None) -> RuleKey:
    return rule_key(unit.code, plan_id, unit.path)


@dataclass(frozen=True)
class Notifier:
    """The event subscribers: which rule fires, for whom, under the rules in force. The hot ones
    (assignments, due-soon and overdue occurrences: a national plan's fan-out, a sweep's) take a
    fetched batch at once — the rules read once, the notifications, deliveries and escalations
    written set-based —; their one-event handlers are the batch of one."""

    settings: Settings
    templates: Templates

    @property
    def base_url(self) -> str:
        return self.settings.public_url.rstrip("/")

    @functools.cached_property
    def _federation(self) -> Federation:
        return self.settings.federation  # once, not per event of a batch

    def serves(self, unit_path: str) -> bool:
        """Whether this deployment tells the unit at `unit_path` (a unit served by a site is told
        by its site, shared/federation.py; the hub still escalates to the site's supervisor)."""
        return self._federation.serves(unit_path)

    async def _rules(self, session: AsyncSession, wanted: Iterable[RuleKey]) -> dict[RuleKey, domain.Rules]:
        return await rules_for_many(session, self.settings, wanted)

    async def _store(self, session: AsyncSession, pending: list[Pending]) -> None:
        await store_many(session, pending, templates=self.templates, settings=self.settings)

    async def assignment(self, session: AsyncSession, event: AssignmentCreated, meta: Meta) -> list[Event]:
        return await self.assignments(session, [(event, meta)])

    async def assignments(self, session: AsyncSession, events: Many) -> list[Event]:
        """assignment.created and assignment.updated."""
        for event, meta in events:
            if meta.type != "assignment.created":
                await self._follow(session, event)
        rules = await self._rules(session, (for_unit(event.unit, event.plan_id) for event, _ in events))
        pending = []
        for event, meta in events:
            in_force = rules[for_unit(event.unit, event.plan_id)]
            if in_force.tells(event.role, "assigned") and self.serves(event.unit.path):
                note = (
                    domain.assigned(event, base_url=self.base_url)
                    if meta.type == "assignment.created"
                    else domain.changed(event, base_url=self.base_url)
                )
                pending.append(Pending(note, meta.id, in_force.digest))
        await self._store(session, pending)
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
        return await self.due_soons(session, [(event, meta)])

    async def due_soons(self, session: AsyncSession, events: Many) -> list[Event]:
        """occurrence.due_soon: a reminder on the days the rules in force remind."""
        rules = await self._rules(session, (for_unit(event.unit, event.plan_id) for event, _ in events))
        pending = []
        for event, meta in events:
            in_force = rules[for_unit(event.unit, event.plan_id)]
            if (
                in_force.tells(event.role, "due_soon")
                and event.lead_days in in_force.due_soon_days
                and self.serves(event.unit.path)
            ):
                pending.append(Pending(domain.due_soon(event, base_url=self.base_url), meta.id, in_force.digest))
        await self._store(session, pending)
        return []

    async def overdue(self, session: AsyncSession, event: OccurrenceOverdue, meta: Meta) -> list[Event]:
        return await self.overdues(session, [(event, meta)])

    async def overdues(self, session: AsyncSession, events: Many) -> list[Event]:
        """occurrence.overdue: the late unit is told; a lead unit's occurrence waits, as an
        escalation to the supervising unit, for its grace period."""
        # only the lead's report is expected; a province has no supervisor here
        supervisors = {
            meta.id: parent
            for event, meta in events
            if event.role == "lead" and (parent := domain.supervisor(event.unit.path)) is not None
        }
        rules = await self._rules(
            session,
            [
                *(for_unit(event.unit, event.plan_id) for event, _ in events),
                *(for_unit(supervisors[meta.id], event.plan_id) for event, meta in events if meta.id in supervisors),
            ],
        )
        pending, waiting = [], []
        for event, meta in events:
            note = domain.overdue(event, base_url=self.base_url)
            in_force = rules[for_unit(event.unit, event.plan_id)]
            if in_force.tells(event.role, "overdue") and self.serves(event.unit.path):
                pending.append(Pending(note, meta.id, in_force.digest))
            if (supervisor := supervisors.get(meta.id)) is None or not self.serves(supervisor.path):
                continue
            # Whether and when the supervisor hears is the supervisor's rule (and the plan's), not
            # the late unit's: a commune cannot switch off its own escalation.
            above = rules[for_unit(supervisor, event.plan_id)]
            if above.escalate:
                noticed = vn_date(meta.occurred_at)
                waiting.append(
                    escalation(
                        event,
                        supervisor,
                        note,
                        domain.escalate_on(event.due, above.escalate_after_days, noticed=noticed),
                    )
                )
        await self._store(session, pending)
        await wait_to_escalate(session, waiting)
        return []

    async def progress(self, session: AsyncSession, event: ProgressReported, meta: Meta) -> list[Event]:
        return await self.progress_many(session, [(event, meta)])

    async def progress_many(self, session: AsyncSession, events: Many) -> list[Event]:
        """progress.reported and progress.corrected: a done report settles a pending escalation."""
        await settle_many(
            session, [(event.assignment_id, event.due) for event, _ in events if event.status == "done"], "done"
        )
        return []

    async def cancelled(self, session: AsyncSession, event: AssignmentCancelled, meta: Meta) -> list[Event]:
        return await self.cancellations(session, [(event, meta)])

    async def cancellations(self, session: AsyncSession, events: Many) -> list[Event]:
        await settle_many(session, [(event.assignment_id, CANCELLED) for event, _ in events], "cancelled")
        return []

    async def reviewed(self, session: AsyncSession, event: ReportReviewed, meta: Meta) -> list[Event]:
        """report.accepted and report.returned: the reporting unit is told."""
        if not self.serves(event.unit.path):
            return []
        rules = await rules_for(
            session, self.settings, unit_code=event.unit.code, plan_id=None, unit_path=event.unit.path
        )
        note = domain.reviewed(event, accepted=meta.type == "report.accepted", base_url=self.base_url)
        await self._store(session, [Pending(note, meta.id, rules.digest)])
        return []


def subscriptions(settings: Settings, templates: Templates | None = None) -> list[Subscription]:
    """`templates`: the service's, already loaded and checked (else loaded from the settings)."""
    notifier = Notifier(settings, templates or Templates(settings.templates_dir))
    return [
        # the hot ones take a fetched batch at once (the service consumes batched: app.py)
        *on(notifier.assignment, "assignment.created", "assignment.updated", many=notifier.assignments),
        *on(notifier.cancelled, "assignment.cancelled", many=notifier.cancellations),
        *on(notifier.due_soon, "occurrence.due_soon", many=notifier.due_soons),
        *on(notifier.overdue, "occurrence.overdue", many=notifier.overdues),
        # the busiest stream of all: a batch of reports settles its occurrences in two statements
        *on(notifier.progress, "progress.reported", "progress.corrected", many=notifier.progress_many),
        *on(notifier.reviewed, "report.accepted", "report.returned"),
    ]
