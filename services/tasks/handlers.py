"""Event subscribers of the tasks service: issued and amended plans become assignments (an
amendment adds what is new, cancels what was dropped but never what was already reported, and
updates what was reworded or rescheduled); closed plans stop taking reports; a merged unit's
open assignments move to its successor; accepted periodic reports lock progress.

Versions are taken one by one as plans and reports number them (shared/provenance.py): a plan
version or a report decision whose predecessor or submission is not known here waits, and is
dead-lettered if it never comes, so a forged huge version cannot lock anything."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Text,
    Uuid,
    and_,
    any_,
    bindparam,
    column,
    delete,
    func,
    literal,
    or_,
    select,
    update,
    values,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.tasks import models as m
from services.tasks.domain import Current, NewAssignment, amendment, assignments_for, period_code
from shared.bus import PermanentEventError, Premature, Subscription, on
from shared.db import chunks
from shared.deadlines import DueRules
from shared.events import (
    AssignmentCancelled,
    Event,
    Meta,
    PlanAmended,
    PlanClosed,
    PlanIssued,
    PlanTask,
    ReportReviewed,
    ReportSubmitted,
    UnitSucceeded,
)
from shared.federation import Federation
from shared.periods import Period
from shared.provenance import Succession, succession
from shared.settings import Settings
from shared.units import unit_ref
from shared.workdays import WorkingCalendar


async def _claim_version(session: AsyncSession, plan_id: uuid.UUID, version: int, what: str) -> bool:
    """True if `version` is the next one for this plan (and records it); False for one already
    applied or older. A version further on waits for those between (Premature)."""
    p = m.plans
    held = (
        await session.execute(select(p.c.version).where(p.c.plan_id == plan_id).with_for_update())
    ).scalar_one_or_none()
    step = succession(version, held=held)
    if step is Succession.EARLY:
        raise Premature(
            f"{what} v{version} of plan {plan_id}: tasks holds v{held or 0}, waits for the versions between"
        )
    if step is Succession.SEEN:
        return False
    statement = insert(p).values(plan_id=plan_id, version=version)
    applied = await session.execute(
        statement.on_conflict_do_update(
            index_elements=["plan_id"],
            set_={"version": statement.excluded.version},
            where=p.c.version < statement.excluded.version,
        ).returning(p.c.plan_id)
    )
    return applied.first() is not None


def _announce(event_type: str, a: NewAssignment, *, plan_id: uuid.UUID, number: str, at: datetime) -> Event:
    """assignment.created or assignment.updated: the assignment as it now stands."""
    return Event(
        event_type,
        unit_path=a.unit.path,
        at=at,
        payload=a.announced(plan_id=plan_id, number=number),
    )


@dataclass(frozen=True)
class Existing:
    """An assignment of the plan as it stands before this version is applied."""

    current: Current
    cancelled: bool
    reported: bool


async def _existing(session: AsyncSession, plan_id: uuid.UUID) -> dict[uuid.UUID, Existing]:
    """The plan's assignments already here (none at its first version: one indexed lookup)."""
    a = m.assignments
    rows = await session.execute(
        select(a.c.id, a.c.task_title, a.c.due, a.c.plan_number, a.c.cancelled_at, a.c.last_reported_at).where(
            a.c.plan_id == plan_id
        )
    )
    return {
        r.id: Existing(
            current=Current(task_title=r.task_title, due=r.due, plan_number=r.plan_number),
            cancelled=r.cancelled_at is not None,
            reported=r.last_reported_at is not None,
        )
        for r in rows
    }


# The columns of a new assignment, in the order of the arrays _insert_assignments unnests.
_NEW_COLUMNS = {
    "id": Uuid,
    "task_ref": Text,
    "task_title": Text,
    "unit_code": Text,
    "unit_path": Text,
    "unit_name": Text,
    "role": Text,
    "period": Text,
    "period_start": Date,
    "due": Date,
}


@functools.cache
def _insert_assignments() -> Any:
    """INSERT … SELECT :plan_id, :plan_number, unnest(one array per column): one statement,
    prepared once, for a commune's plan as for a national one (a multi-row VALUES was compiled
    anew for each thousand rows)."""
    a = m.assignments
    rows = (
        func.unnest(*(bindparam(name, type_=ARRAY(kind)) for name, kind in _NEW_COLUMNS.items()))
        .table_valued(*_NEW_COLUMNS)
        .render_derived(name="new")
    )
    plan = (
        bindparam("plan_id", type_=Uuid).label("plan_id"),
        bindparam("plan_number", type_=Text).label("plan_number"),
    )
    return (
        insert(a)
        .from_select(["plan_id", "plan_number", *_NEW_COLUMNS], select(*plan, *(rows.c[c] for c in _NEW_COLUMNS)))
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(a.c.id)
    )


def _among(ids: Any, wanted: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """SQL: `ids` = ANY(one array parameter), whatever the number of ids (IN had one each)."""
    return ids == any_(literal(list(wanted), type_=ARRAY(Uuid)))  # type: ignore[no-any-return]


async def _create(
    session: AsyncSession, *, plan_id: uuid.UUID, number: str, new: Sequence[NewAssignment]
) -> set[uuid.UUID]:
    """Store the new assignments in one statement; the ids stored."""
    if not new:
        return set()
    arrays: dict[str, list[Any]] = {
        "id": [a.id for a in new],
        "task_ref": [a.task_ref for a in new],
        "task_title": [a.task_title for a in new],
        "unit_code": [a.unit.code for a in new],
        "unit_path": [a.unit.path for a in new],
        "unit_name": [a.unit.name for a in new],
        "role": [a.role for a in new],
        "period": [period_code(a.period) for a in new],
        "period_start": [a.period.start for a in new],
        "due": [a.due for a in new],
    }
    stored = await session.execute(_insert_assignments(), {"plan_id": plan_id, "plan_number": number, **arrays})
    return set(stored.scalars().all())


async def _apply(
    session: AsyncSession,
    *,
    plan_id: uuid.UUID,
    number: str,
    period: str,
    tasks: list[PlanTask],
    version: int,
    at: datetime,
    calendar: WorkingCalendar,
    rules: DueRules,
    what: str,
    serves: Callable[[str], bool] = lambda _: True,
) -> list[Event]:
    if not await _claim_version(session, plan_id, version, what):
        return []  # an older version arriving late changes nothing
    wanted = assignments_for(plan_id=plan_id, period=period, tasks=tasks, calendar=calendar, rules=rules)
    # a unit served by a site has its assignments made there (same ids), not here (shared/federation.py)
    wanted = [w for w in wanted if serves(w.unit.path)]
    a = m.assignments
    # What is here already is read once (the plan's row in tasks.plans is locked: no other version
    # of this plan is applied meanwhile); the rest is set-based statements on arrays of ids.
    existing = await _existing(session, plan_id)
    stored = await _create(session, plan_id=plan_id, number=number, new=[w for w in wanted if w.id not in existing])
    # an amendment may bring back what an earlier one cancelled
    revived = [w.id for w in wanted if w.id in existing and existing[w.id].cancelled]
    if revived:
        await session.execute(update(a).where(_among(a.c.id, revived)).values(cancelled_at=None))
    created = stored | set(revived)
    events = [
        _announce("assignment.created", w, plan_id=plan_id, number=number, at=at) for w in wanted if w.id in created
    ]
    keep = {w.id for w in wanted}
    droppable = [i for i, e in existing.items() if i not in keep and not e.cancelled and not e.reported]
    dropped: Sequence[Any] = []
    if droppable:
        dropped = (
            await session.execute(
                update(a)
                # checked again here: a report may have come in since (it locks the row)
                .where(_among(a.c.id, droppable), a.c.cancelled_at.is_(None), a.c.last_reported_at.is_(None))
                .values(cancelled_at=at)
                .returning(a)
            )
        ).all()
    events += [
        Event(
            "assignment.cancelled",
            unit_path=r.unit_path,
            at=at,
            payload=AssignmentCancelled(
                assignment_id=r.id,
                plan_id=plan_id,
                unit=unit_ref(r),
                period=r.period,
                reason=f"kế hoạch điều chỉnh (phiên bản {version})",
            ),
        )
        for r in dropped
    ]
    # A reworded or rescheduled task keeps its assignments and their reports; what changed is
    # announced as assignment.updated. A moved due date gets its reminders and overdue notice again.
    diff = amendment(wanted, {i: e.current for i, e in existing.items()}, number=number)
    for chunk in chunks(diff.changed):
        new = values(column("id", Uuid), column("title", Text), column("due", Date), name="new").data(
            [(w.id, w.task_title, w.due) for w in chunk]
        )
        await session.execute(
            update(a).where(a.c.id == new.c.id).values(task_title=new.c.title, due=new.c.due, plan_number=number)
        )
    if rescheduled := [w.id for w in diff.rescheduled]:
        await session.execute(update(a).where(_among(a.c.id, rescheduled)).values(overdue_emitted_at=None))
        await session.execute(delete(m.reminders).where(_among(m.reminders.c.assignment_id, rescheduled)))
    events += [_announce("assignment.updated", w, plan_id=plan_id, number=number, at=at) for w in diff.changed]
    return events


@dataclass(frozen=True)
class PlanVersions:
    """plan.issued and plan.amended alike: bring the assignments to this version of the plan,
    with report deadlines by the plan's own rules or the deployment's."""

    calendar: WorkingCalendar
    default_rules: DueRules
    federation: Federation

    async def handle(self, session: AsyncSession, plan: PlanIssued | PlanAmended, meta: Meta) -> list[Event]:
        return await _apply(
            session,
            plan_id=plan.plan_id,
            number=plan.number,
            period=plan.period,
            tasks=plan.tasks,
            version=plan.version,
            at=meta.occurred_at,
            calendar=self.calendar,
            rules=plan.due_rules or self.default_rules,
            what=meta.type,
            serves=self.federation.serves,
        )


async def plan_closed(session: AsyncSession, plan: PlanClosed, meta: Meta) -> list[Event]:
    statement = insert(m.plans).values(plan_id=plan.plan_id, version=0, closed_at=meta.occurred_at)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["plan_id"], set_={"closed_at": meta.occurred_at})
    )
    return []


async def unit_succeeded(session: AsyncSession, link: UnitSucceeded, meta: Meta) -> list[Event]:
    """A merged or abolished unit's open assignments (nothing reported yet) move to the unit that
    took it over, with an audit entry; reported and closed ones stay where they were reported."""
    if not link.default or not link.new_path:
        return []
    # Several units merged into one arrive as concurrent events: one at a time per successor,
    # so that two of them cannot both move an occurrence to it.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"tasks.successor.{link.new}"))))
    a, same = m.assignments, m.assignments.alias("same")
    already = select(same.c.id).where(
        same.c.plan_id == a.c.plan_id,
        same.c.task_ref == a.c.task_ref,
        same.c.period == a.c.period,
        same.c.unit_code == link.new,
    )
    moved = (
        await session.execute(
            update(a)
            .where(
                a.c.unit_code == link.old,
                a.c.last_reported_at.is_(None),
                a.c.done_at.is_(None),
                a.c.cancelled_at.is_(None),
                ~already.exists(),
            )
            .values(unit_code=link.new, unit_path=link.new_path, unit_name=link.new_name)
            .returning(a)
        )
    ).all()
    if not moved:
        return []
    await session.execute(
        insert(m.assignment_audit),
        [
            {
                "assignment_id": r.id,
                "at": meta.occurred_at,
                "change": {"kind": "moved_to_successor", "from": link.old, "to": link.new, "event": str(meta.id)},
            }
            for r in moved
        ],
    )
    return [
        _announce(
            "assignment.updated",
            NewAssignment(
                id=r.id,
                task_ref=r.task_ref,
                task_title=r.task_title,
                unit=unit_ref(r),
                role=r.role,
                period=Period.parse(r.period),
                due=r.due,
            ),
            plan_id=r.plan_id,
            number=r.plan_number,
            at=meta.occurred_at,
        )
        for r in moved
    ]


async def report_submitted(session: AsyncSession, event: ReportSubmitted, meta: Meta) -> list[Event]:
    """Remember the submission, so that a decision can be checked against it. Versions come one
    by one (a resubmission after a return is the next): a later one waits for those before it."""
    s = m.report_submissions
    known = dict(
        (
            await session.execute(
                select(s.c.version, s.c.report_id)
                .where(s.c.unit_code == event.unit.code, s.c.period == event.period)
                .with_for_update()
            )
        ).all()
    )
    step = succession(event.version, held=max(known, default=None))
    if step is Succession.EARLY:
        raise Premature(
            f"report.submitted v{event.version} of {event.unit.path} {event.period}: "
            f"tasks knows v{max(known, default=0)}, waits for the versions between"
        )
    if step is Succession.SEEN:
        if known.get(event.version, event.report_id) != event.report_id:
            raise PermanentEventError(
                f"report.submitted v{event.version} of {event.unit.path} {event.period} names report "
                f"{event.report_id}, but v{event.version} is report {known[event.version]}"
            )
        return []
    await session.execute(
        insert(s)
        .values(unit_code=event.unit.code, period=event.period, version=event.version, report_id=event.report_id)
        .on_conflict_do_nothing()
    )
    return []


async def _check_submission(session: AsyncSession, event: ReportReviewed, what: str) -> None:
    """A decision names a submission known here, by its version and its report id."""
    s = m.report_submissions
    known = (
        await session.execute(
            select(s.c.report_id).where(
                s.c.unit_code == event.unit.code, s.c.period == event.period, s.c.version == event.version
            )
        )
    ).scalar_one_or_none()
    if known is None:
        raise Premature(
            f"{what} v{event.version} of {event.unit.path} {event.period}: no such submission known to tasks"
        )
    if known != event.report_id:
        raise PermanentEventError(
            f"{what} v{event.version} of {event.unit.path} {event.period} names report {event.report_id}, "
            f"but v{event.version} is report {known}"
        )


async def report_reviewed(session: AsyncSession, event: ReportReviewed, meta: Meta) -> list[Event]:
    """An accepted periodic report locks progress in the unit's subtree for its period; a return
    (also of an accepted report: reopening it) unlocks. The newest decision wins, in any order.
    Only a decision on a submission known here counts: a forged version locks nothing."""
    await _check_submission(session, event, meta.type)
    period = Period.parse(event.period)
    r = m.report_locks
    statement = insert(r).values(
        unit_code=event.unit.code,
        period=period.code,
        period_start=period.start,
        period_end=period.end,
        version=event.version,
        locked=meta.type == "report.accepted",
        decided_at=event.decided_at,
    )
    # A version is accepted, then perhaps returned (reopened), never the other way round: for
    # the same version a return wins, whatever the order of arrival or the clocks.
    newer = or_(
        statement.excluded.version > r.c.version,
        and_(statement.excluded.version == r.c.version, ~statement.excluded.locked),
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["unit_code", "period"],
            set_={c: statement.excluded[c] for c in ("version", "locked", "decided_at")},
            where=newer,
        )
    )
    return []


def subscriptions(settings: Settings) -> list[Subscription]:
    versions = PlanVersions(settings.calendar(), settings.due_rules, settings.federation)
    return [
        *on(versions.handle, "plan.issued", "plan.amended"),
        *on(plan_closed, "plan.closed"),
        *on(unit_succeeded, "unit.succeeded"),
        *on(report_submitted, "report.submitted"),
        *on(report_reviewed, "report.accepted", "report.returned"),
    ]
