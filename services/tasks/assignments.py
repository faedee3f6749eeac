"""Reading assignments (nhiệm vụ được giao): a unit's or a subtree's list, "my work", one
assignment with its latest reports and audit — each with its follow-up state, by the one rule.

Every read is confined to the caller's subtree: a list names a unit (`unit`, `within`) and
holds only what of it lies in that subtree — a unit above the caller's is refused (403), any
other unit outside it simply has nothing there; one assignment outside it is as if absent (404)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tasks import history
from services.tasks import models as m
from services.tasks.access import readable_assignment, report_refusal
from shared import followup, pages
from shared.access import Caller, Right
from shared.errors import FieldProblem, InputError
from shared.followup import FollowUp
from shared.periods import Period, PeriodError
from shared.units import under, within_path

a = m.assignments
LISTED = pages.Key("assignments", (date, str, str, uuid.UUID))  # by due date


def state_is(wanted: FollowUp | str, today: date) -> Any:
    """SQL: the assignment is in follow-up state `wanted` on `today`."""
    return followup.is_state(wanted, due=a.c.due, period_start=a.c.period_start, done_at=a.c.done_at, today=today)


def in_subtree(caller: Caller) -> ColumnElement[bool]:
    """SQL: the assignment's unit is the caller's or lies below it (whole paths: a body
    `48.20000.VHXH` is not in `52.21787.VHXH`'s subtree although their codes agree)."""
    return within_path(a.c.unit_path, caller.unit_path)  # served by the GIN index


async def check_named(session: AsyncSession, caller: Caller, code: str) -> None:
    """403 if the unit a list names lies outside the caller's subtree: above it (a commune asking
    for its province) or beside it (a sibling commune) — as every service answers. A unit tasks
    knows nothing of gives an empty list."""
    caller.refuse_above(code)
    path = (await session.execute(select(m.unit_paths.c.path).where(m.unit_paths.c.code == code))).scalar()
    if path is not None:
        caller.require(Right.read, str(path))


def assignment_json(row: Any, today: date) -> dict[str, Any]:
    state = followup.state(due=row.due, period_start=row.period_start, done_at=row.done_at, today=today)
    return {
        "id": str(row.id),
        "plan_id": str(row.plan_id),
        "plan_number": row.plan_number,
        "task_ref": row.task_ref,
        "task_title": row.task_title,
        "unit": row.unit_code,
        "unit_name": row.unit_name,
        "role": row.role,
        "period": row.period,
        "due": row.due.isoformat(),
        "status": state.value,
        "status_label": state.label,
        "last_report_status": row.last_status,
        "last_reported_at": row.last_reported_at.isoformat() if row.last_reported_at else None,
    }


async def list_(
    session: AsyncSession,
    *,
    caller: Caller,
    today: date,
    unit: str | None = None,
    within: str | None = None,
    period: str | None = None,
    plan: uuid.UUID | None = None,
    state: FollowUp | None = None,
    page: pages.Ask,
) -> pages.Page:
    """A page of the open assignments of one unit or of a subtree, within the caller's subtree,
    by due date (then unit, task, id), filtered."""
    if not unit and not within:
        raise InputError([FieldProblem("unit", "cần `unit` (một đơn vị) hoặc `within` (cả cây đơn vị)")])
    for named in (unit, within):
        if named:
            await check_named(session, caller, named)
    query: Select[Any] = (
        select(a)
        .where(a.c.cancelled_at.is_(None), in_subtree(caller))
        .order_by(a.c.due, a.c.unit_code, a.c.task_ref, a.c.id)
        .limit(page.limit + 1)
    )
    if (after := page.where(a.c.due, a.c.unit_code, a.c.task_ref, a.c.id)) is not None:
        query = query.where(after)
    if unit:
        query = query.where(a.c.unit_code == unit)
    if within:
        query = query.where(under(a.c.unit_path, within))
    if period:
        try:
            wanted = Period.parse(period)
        except PeriodError as exc:
            raise InputError([FieldProblem("period", str(exc))]) from None
        query = query.where(a.c.period == wanted.code)
    if plan:
        query = query.where(a.c.plan_id == plan)
    if state:
        query = query.where(state_is(state, today))
    return page.cut((await session.execute(query)).all(), lambda r: (r.due, r.unit_code, r.task_ref, r.id))


@dataclass(frozen=True)
class Work:
    """Việc của tôi: what is overdue, what falls due within the next days, counts per state."""

    overdue: list[Any]
    due_next: list[Any]
    counts: dict[FollowUp, int]


async def work(session: AsyncSession, *, caller: Caller, unit: str, today: date, days: int) -> Work:
    await check_named(session, caller, unit)
    mine = (a.c.unit_code == unit, a.c.cancelled_at.is_(None), in_subtree(caller))
    overdue = (await session.execute(select(a).where(*mine, state_is(FollowUp.OVERDUE, today)).order_by(a.c.due))).all()
    upcoming = (
        await session.execute(
            select(a)
            .where(*mine, a.c.done_at.is_(None), a.c.due >= today, a.c.due <= today + timedelta(days=days))
            .order_by(a.c.due)
        )
    ).all()
    row = (
        await session.execute(
            select(*[func.count().filter(state_is(s, today)).label(s.value) for s in followup.STATES]).where(*mine)
        )
    ).one()
    return Work(
        overdue=list(overdue), due_next=list(upcoming), counts={s: getattr(row, s.value) for s in followup.STATES}
    )


async def get_or_raise(
    session: AsyncSession, *, caller: Caller, assignment_id: uuid.UUID, today: date
) -> dict[str, Any]:
    """One assignment with its audit and its latest reports (`history`, at most history.FIRST),
    oldest first (the last one counts; `pages.history`: how many there are in all and the cursor
    of the older ones at …/history), and whether the caller may report on it now (`may_report`;
    if not, `report_refusal` says why, as a report would be refused); 404 outside the caller's
    subtree. The audit comes whole: only a unit's succession writes it, while nothing is reported."""
    row = await readable_assignment(session, assignment_id, caller=caller)
    shown = await history.latest(
        session, assignment_id=assignment_id, page=pages.Ask(key=history.REPORTS, limit=history.FIRST)
    )
    audit = (
        await session.execute(
            select(m.assignment_audit)
            .where(m.assignment_audit.c.assignment_id == assignment_id)
            .order_by(m.assignment_audit.c.id)
        )
    ).all()
    body = assignment_json(row, today)
    refusal = await report_refusal(session, row, caller=caller)
    body.update(may_report=not refusal, report_refusal=refusal)
    body["audit"] = [{"at": e.at.isoformat(), **e.change} for e in audit]
    body["history"] = list(reversed(shown.page.rows))
    body["pages"] = {"history": {"total": shown.total, "next_cursor": shown.page.next_cursor}}
    return body
