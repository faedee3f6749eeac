"""HTTP routes of the reports service: roll-ups over a unit's subtree."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from sqlalchemy import Numeric, func, literal_column, or_, select

from services.reports import models as m
from services.reports.domain import Rollup
from shared.errors import FieldProblem, InputError, NotFound
from shared.periods import Period, PeriodError
from shared.runtime import Service, service_of

router = APIRouter(prefix="/api/reports")


@router.get("/rollup")
async def rollup(
    unit: str, period: str, view: Literal["current", "as_reported"] = "current", service: Service = Depends(service_of)
) -> dict[str, Any]:
    """Tổng hợp toàn bộ cây đơn vị: số nhiệm vụ phải báo cáo, đã báo cáo, đúng hạn, sản phẩm.

    `view=current` (mặc định) tính lại theo cơ cấu hiện hành: kết quả của xã cũ đã sáp nhập được
    cộng cho xã mới; `view=as_reported` giữ cây đơn vị như tại thời điểm báo cáo."""
    try:
        wanted = Period.parse(period)
    except PeriodError as exc:
        raise InputError([FieldProblem("period", str(exc))]) from None
    a, p, u = m.assignments, m.progress, m.units
    under = a.c.ancestors.contains([unit])
    if view == "current":
        restated = select(u.c.code).where(u.c.rollup_to.contains([unit]))
        under = or_(a.c.unit_code.in_(restated), under)
    lead = a.c.role == "lead"
    in_scope = (under, ~a.c.cancelled, a.c.period_start >= wanted.start, a.c.period_end <= wanted.end)
    reported_on = func.date(func.timezone("Asia/Ho_Chi_Minh", p.c.first_reported_at))
    async with service.sessions() as session:
        known = (await session.execute(select(m.units.c.name).where(m.units.c.code == unit))).first()
        if known is None:
            raise NotFound(f"không có đơn vị mã {unit!r}")
        counts = (
            await session.execute(
                select(
                    # completeness counts the leads' reports; coordinating units add outputs only
                    func.count().filter(lead),
                    func.count(p.c.assignment_id).filter(lead),
                    func.count().filter(lead, reported_on <= a.c.due),
                )
                .select_from(a.outerjoin(p, p.c.assignment_id == a.c.id))
                .where(*in_scope)
            )
        ).one()
        kv = func.jsonb_each_text(p.c.outputs).table_valued("key", "value").lateral()
        outputs = (
            await session.execute(
                select(kv.c.key, func.sum(kv.c.value.cast(Numeric)))
                .select_from(a.join(p, p.c.assignment_id == a.c.id).join(kv, literal_column("true")))
                .where(*in_scope)
                .group_by(kv.c.key)
                .order_by(kv.c.key)
            )
        ).all()
    result = Rollup(
        unit=unit,
        period=wanted.code,
        expected=counts[0],
        reported=counts[1],
        on_time=counts[2],
        outputs={key: int(total) for key, total in outputs},
    )
    return {
        "unit": result.unit,
        "unit_name": known.name,
        "period": result.period,
        "view": view,
        "expected": result.expected,
        "reported": result.reported,
        "on_time": result.on_time,
        "completeness": result.completeness,
        "timeliness": result.timeliness,
        "outputs": result.outputs,
    }
