"""HTTP routes of the tasks service: a unit's assignments and progress reports."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from services.tasks import models as m
from services.tasks.domain import STATUS_LABELS, follow_up_status, on_time
from services.tasks.handlers import closed as plan_closed
from shared.errors import Conflict, FieldProblem, InputError, NotFound
from shared.events import MAX_COUNT, ProgressReported, UnitRef, make_event
from shared.periods import Period, PeriodError
from shared.runtime import Service, service_of
from shared.vocabularies import unknown_kinds

router = APIRouter(prefix="/api")


class ProgressIn(BaseModel):
    period: str
    status: Literal["not_started", "in_progress", "done", "cannot_do"]
    outputs: dict[str, Annotated[int, Field(le=MAX_COUNT)]] = {}
    note: str = Field("", max_length=4000)


def _assignment_json(row: Any, today: Any) -> dict[str, Any]:
    status = follow_up_status(due=row.due, period_start=row.period_start, done_at=row.done_at, today=today)
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
        "status": status,
        "status_label": STATUS_LABELS[status],
        "last_report_status": row.last_status,
        "last_reported_at": row.last_reported_at.isoformat() if row.last_reported_at else None,
    }


@router.get("/assignments")
async def list_assignments(
    unit: str,
    period: str | None = None,
    plan: uuid.UUID | None = None,
    limit: int = Query(1000, ge=1, le=10000),
    service: Service = Depends(service_of),
) -> dict[str, Any]:
    a = m.assignments
    query = (
        select(a).where(a.c.unit_code == unit, a.c.cancelled_at.is_(None)).order_by(a.c.due, a.c.task_ref).limit(limit)
    )
    if period:
        try:
            query = query.where(a.c.period == Period.parse(period).code)
        except PeriodError as exc:
            raise InputError([FieldProblem("period", str(exc))]) from None
    if plan:
        query = query.where(a.c.plan_id == plan)
    async with service.sessions() as session:
        rows = (await session.execute(query)).all()
    today = service.clock.today_vn()
    return {"items": [_assignment_json(r, today) for r in rows], "count": len(rows)}


@router.get("/assignments/{assignment_id}")
async def get_assignment(assignment_id: uuid.UUID, service: Service = Depends(service_of)) -> dict[str, Any]:
    async with service.sessions() as session:
        row = (await session.execute(select(m.assignments).where(m.assignments.c.id == assignment_id))).first()
        if row is None:
            raise NotFound(f"không có nhiệm vụ được giao {assignment_id}")
        history = (
            await session.execute(
                select(m.progress_reports)
                .where(m.progress_reports.c.assignment_id == assignment_id)
                .order_by(m.progress_reports.c.reported_at)
            )
        ).all()
    body = _assignment_json(row, service.clock.today_vn())
    body["history"] = [
        {
            "id": str(h.id),
            "status": h.status,
            "outputs": h.outputs,
            "note": h.note,
            "reported_at": h.reported_at.isoformat(),
        }
        for h in history
    ]
    return body


@router.post("/assignments/{assignment_id}/progress", status_code=201)
async def report_progress(
    assignment_id: uuid.UUID, body: ProgressIn, service: Service = Depends(service_of)
) -> dict[str, Any]:
    """Báo cáo tiến độ một kỳ; báo cáo sau thay số liệu của báo cáo trước, lịch sử được giữ."""
    problems = [
        FieldProblem(f"outputs.{k}", "loại sản phẩm không có trong danh mục") for k in unknown_kinds(list(body.outputs))
    ]
    problems += [FieldProblem(f"outputs.{k}", "số lượng không được âm") for k, v in body.outputs.items() if v < 0]
    if problems:
        raise InputError(problems)
    now = service.clock.now()
    report_id = uuid.uuid4()
    async with service.transaction() as session:
        a = m.assignments
        row = (await session.execute(select(a).where(a.c.id == assignment_id).with_for_update())).first()
        if row is None:
            raise NotFound(f"không có nhiệm vụ được giao {assignment_id}")
        if row.cancelled_at is not None:
            raise Conflict("nhiệm vụ này đã bị hủy khi kế hoạch được điều chỉnh")
        if await plan_closed(session, row.plan_id):
            raise Conflict(f"kế hoạch {row.plan_number or row.plan_id} đã kết thúc, không nhận báo cáo mới")
        if body.period != row.period:
            raise InputError(
                [FieldProblem("period", f"nhiệm vụ này thuộc kỳ {row.period}, không phải {body.period!r}")]
            )
        await session.execute(
            insert(m.progress_reports).values(
                id=report_id,
                assignment_id=assignment_id,
                status=body.status,
                outputs=body.outputs,
                note=body.note,
                reported_at=now,
            )
        )
        done_at = (row.done_at or now) if body.status == "done" else None
        await session.execute(
            update(a)
            .where(a.c.id == assignment_id)
            .values(
                last_status=body.status,
                last_reported_at=now,
                done_at=done_at,
            )
        )
        await service.emit(
            session,
            [
                make_event(
                    "progress.reported",
                    unit_path=row.unit_path,
                    producer=service.name,
                    at=now,
                    payload=ProgressReported(
                        report_id=report_id,
                        assignment_id=assignment_id,
                        plan_id=row.plan_id,
                        unit=UnitRef(code=row.unit_code, path=row.unit_path, name=row.unit_name),
                        period=row.period,
                        due=row.due,
                        status=body.status,
                        outputs=body.outputs,
                        reported_at=now,
                        on_time=on_time(now, row.due),
                    ),
                )
            ],
        )
    status = follow_up_status(
        due=row.due, period_start=row.period_start, done_at=done_at, today=service.clock.today_vn()
    )
    return {"id": str(report_id), "assignment_id": str(assignment_id), "status": status, "reported_at": now.isoformat()}
