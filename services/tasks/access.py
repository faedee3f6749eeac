"""Whether a unit may still report on an assignment: the one set of checks behind progress
reports and evidence uploads."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tasks import models as m
from shared.errors import Conflict, Forbidden, NotFound
from shared.periods import Period


async def closed(session: AsyncSession, plan_id: uuid.UUID) -> bool:
    row = (await session.execute(select(m.plans.c.closed_at).where(m.plans.c.plan_id == plan_id))).first()
    return row is not None and row.closed_at is not None


async def open_assignment(
    session: AsyncSession, assignment_id: uuid.UUID, *, unit: str | None, lock: bool = False
) -> Any:
    """The assignment, if it exists, is not cancelled, its plan is not closed, and `unit` (when
    named) is the unit it belongs to; 404, 409 or 403 otherwise."""
    a = m.assignments
    query = select(a).where(a.c.id == assignment_id)
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise NotFound(f"không có nhiệm vụ được giao {assignment_id}")
    if row.cancelled_at is not None:
        raise Conflict("nhiệm vụ này đã bị hủy khi kế hoạch được điều chỉnh")
    if await closed(session, row.plan_id):
        raise Conflict(f"kế hoạch {row.plan_number or row.plan_id} đã kết thúc, không nhận báo cáo, minh chứng mới")
    if unit is not None and unit != row.unit_code:
        raise Forbidden(f"đơn vị {unit} không báo cáo thay được nhiệm vụ của {row.unit_name}")
    locked = await locked_by(session, row)
    if locked is not None:
        raise Conflict(
            f"báo cáo {Period.parse(locked.period).label_vi()} của đơn vị {locked.unit_code} đã được cấp trên "
            "tiếp nhận và khóa; cần cấp trên trả lại (mở lại) báo cáo trước khi điều chỉnh"
        )
    return row


async def locked_by(session: AsyncSession, row: Any) -> Any:
    """The accepted periodic report (of the unit or a unit above it) that covers the assignment's period."""
    r = m.report_locks
    end = Period.parse(row.period).end
    return (
        await session.execute(
            select(r.c.unit_code, r.c.period)
            .where(
                r.c.locked,
                r.c.unit_code.in_(row.unit_path.split(".")),
                r.c.period_start <= row.period_start,
                r.c.period_end >= end,
            )
            .limit(1)
        )
    ).first()
