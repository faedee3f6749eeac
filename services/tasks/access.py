"""Who may act on an assignment, and whether it still takes reports: the one set of checks
behind reading an assignment, progress reports and evidence uploads.

An assignment of a unit outside the caller's subtree is as if absent (404, for reads and writes
alike: row-level security hides it too, and the answer does not confirm that the id exists);
inside it, writing needs the right on the assignment's unit (403)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.tasks import models as m
from shared.access import Caller, Right
from shared.errors import Conflict, Forbidden, NotFound
from shared.periods import Period


async def readable_assignment(
    session: AsyncSession, assignment_id: uuid.UUID, *, caller: Caller, lock: bool = False
) -> Any:
    """The assignment, if it exists within the caller's subtree; 404 otherwise."""
    a = m.assignments
    query = select(a).where(a.c.id == assignment_id)
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None or not caller.covers(row.unit_path):
        raise NotFound(f"không có nhiệm vụ được giao {assignment_id}")
    return row


async def open_assignment(
    session: AsyncSession, assignment_id: uuid.UUID, *, caller: Caller, unit: str | None, lock: bool = False
) -> Any:
    """The assignment the caller reports on: within its subtree (404), the caller may report for
    its unit, and `unit` — the acting unit a request body still names, for compatibility — is
    that unit (403); not cancelled, its plan not closed, its period not locked (409)."""
    row = await readable_assignment(session, assignment_id, caller=caller, lock=lock)
    await check_reportable(session, row, caller=caller, unit=unit)
    return row


async def check_reportable(session: AsyncSession, row: Any, *, caller: Caller, unit: str | None) -> None:
    """The checks of open_assignment on an assignment already read: Forbidden (403) or Conflict (409)."""
    caller.require(Right.report, row.unit_path)
    if unit is not None and unit != row.unit_code:
        raise Forbidden(
            f"nhiệm vụ này của {row.unit_name} ({row.unit_code}); tài khoản không báo cáo thay được "
            f"đơn vị {unit} — đơn vị báo cáo là đơn vị của tài khoản đăng nhập"
        )
    if row.cancelled_at is not None:
        raise Conflict("nhiệm vụ này đã bị hủy khi kế hoạch được điều chỉnh")
    closed, locked = await standing(session, row)
    if closed:
        raise Conflict(f"kế hoạch {row.plan_number or row.plan_id} đã kết thúc, không nhận báo cáo, minh chứng mới")
    if locked is not None:
        raise Conflict(
            f"báo cáo {Period.parse(locked.period).label_vi()} của đơn vị {locked.unit_code} đã được cấp trên "
            "tiếp nhận và khóa; cần cấp trên trả lại (mở lại) báo cáo trước khi điều chỉnh"
        )


async def report_refusal(session: AsyncSession, row: Any, *, caller: Caller) -> str:
    """Why the caller could not report on this assignment now, in the words a report would be
    refused with ("" if it can): so a page shows the form only to whoever may use it."""
    try:
        await check_reportable(session, row, caller=caller, unit=None)
    except (Forbidden, Conflict) as refused:
        return str(refused)
    return ""


async def standing(session: AsyncSession, row: Any) -> tuple[bool, Any]:
    """Whether the assignment's plan is closed, and the accepted periodic report (of the unit or a
    unit above it) that covers its period, if any: one statement (a report is checked on every
    POST of progress)."""
    p, r = m.plans, m.report_locks
    closed = select(p.c.closed_at.is_not(None)).where(p.c.plan_id == row.plan_id).scalar_subquery()
    lock = (
        select(r.c.unit_code, r.c.period)
        .where(
            r.c.locked,
            r.c.unit_code.in_(row.unit_path.split(".")),
            r.c.period_start <= row.period_start,
            r.c.period_end >= Period.parse(row.period).end,
        )
        .limit(1)
        .subquery("lock")
    )
    found = (
        await session.execute(
            select(func.coalesce(closed, False).label("closed"), lock.c.unit_code, lock.c.period).select_from(
                select(literal(1)).subquery("one").outerjoin(lock, true())
            )
        )
    ).one()
    return bool(found.closed), found if found.unit_code is not None else None
