"""HTTP routes of the tasks service: a unit's assignments and progress reports."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, HttpUrl, model_validator
from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.tasks import models as m
from services.tasks.access import open_assignment
from services.tasks.domain import STATUS_LABELS, follow_up_status, on_time
from services.tasks.evidence import files_of
from services.tasks.evidence import router as evidence_router
from shared.errors import FieldProblem, InputError, NotFound
from shared.events import MAX_COUNT, ProgressReported, UnitRef
from shared.periods import Period, PeriodError
from shared.runtime import Service, service_of
from shared.vocabularies import unknown_kinds

router = APIRouter(prefix="/api")
FollowUp = Literal["done_on_time", "done_late", "in_progress", "overdue", "not_due"]


class Evidence(BaseModel):
    """A link to what was published, the number of a document (e.g. "45/BC-UBND"), or a file
    uploaded for this assignment (POST /api/assignments/{id}/evidence)."""

    kind: Literal["link", "document", "file"]
    url: HttpUrl | None = None
    number: str = Field("", max_length=100)
    title: str = Field("", max_length=300)
    file_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _complete(self) -> Evidence:
        if self.kind == "link" and self.url is None:
            raise ValueError("minh chứng dạng liên kết cần url")
        if self.kind == "document" and not self.number.strip():
            raise ValueError("minh chứng dạng văn bản cần số, ký hiệu văn bản")
        if self.kind == "file" and self.file_id is None:
            raise ValueError("minh chứng dạng tệp cần file_id của tệp đã tải lên")
        return self


class Reporter(BaseModel):
    unit: str | None = None  # the unit reporting; must be the assignment's unit
    name: str = Field("", max_length=200)


class ProgressIn(BaseModel):
    period: str
    status: Literal["not_started", "in_progress", "done", "cannot_do"]
    outputs: dict[str, Annotated[int, Field(le=MAX_COUNT)]] = {}
    note: str = Field("", max_length=4000)
    reason: str = Field("", max_length=2000)
    good_model: str = Field("", max_length=2000)  # mô hình hay, cách làm hiệu quả, worth spreading
    evidence: list[Evidence] = Field([], max_length=50)
    reporter: Reporter = Field(default_factory=lambda: Reporter(unit=None, name=""))


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


def _status_is(status: FollowUp, today: date) -> Any:
    """The follow-up status as SQL, the same rule as domain.follow_up_status."""
    a = m.assignments
    done_on = func.date(func.timezone("Asia/Ho_Chi_Minh", a.c.done_at))
    return {
        "done_on_time": and_(a.c.done_at.is_not(None), done_on <= a.c.due),
        "done_late": and_(a.c.done_at.is_not(None), done_on > a.c.due),
        "overdue": and_(a.c.done_at.is_(None), a.c.due < today),
        "in_progress": and_(a.c.done_at.is_(None), a.c.due >= today, a.c.period_start <= today),
        "not_due": and_(a.c.done_at.is_(None), a.c.period_start > today),
    }[status]


async def _evidence(session: AsyncSession, assignment_id: uuid.UUID, items: list[Evidence]) -> list[dict[str, Any]]:
    """The evidence as stored and published: files carry their name, type, size and address."""
    files = await files_of(session, assignment_id, [e.file_id for e in items if e.file_id])
    missing = [
        FieldProblem(f"evidence[{i}].file_id", "không có tệp này trong các tệp đã tải lên cho nhiệm vụ này")
        for i, e in enumerate(items)
        if e.file_id and e.file_id not in files
    ]
    if missing:
        raise InputError(missing)
    out = []
    for e in items:
        item = e.model_dump(mode="json", exclude_defaults=True)
        if e.file_id:
            f = files[e.file_id]
            item.update(name=f.name, content_type=f.content_type, size=f.size, url=f"/api/evidence/{f.id}")
        out.append(item)
    return out


@router.get("/assignments")
async def list_assignments(
    unit: str | None = None,
    within: str | None = None,
    period: str | None = None,
    plan: uuid.UUID | None = None,
    status: FollowUp | None = None,
    limit: int = Query(1000, ge=1, le=10000),
    service: Service = Depends(service_of),
) -> dict[str, Any]:
    """Nhiệm vụ được giao của một đơn vị (`unit`) hoặc cả cây đơn vị (`within`), lọc theo kỳ,
    kế hoạch, trạng thái (done_on_time, done_late, in_progress, overdue, not_due)."""
    if not unit and not within:
        raise InputError([FieldProblem("unit", "cần `unit` (một đơn vị) hoặc `within` (cả cây đơn vị)")])
    a = m.assignments
    today = service.clock.today_vn()
    query = select(a).where(a.c.cancelled_at.is_(None)).order_by(a.c.due, a.c.unit_code, a.c.task_ref).limit(limit)
    if unit:
        query = query.where(a.c.unit_code == unit)
    if within:
        query = query.where(a.c.unit_path.op("~")(rf"(^|\.){re.escape(within)}(\.|$)"))
    if period:
        try:
            wanted = Period.parse(period)
        except PeriodError as exc:
            raise InputError([FieldProblem("period", str(exc))]) from None
        query = query.where(a.c.period == wanted.code)
    if plan:
        query = query.where(a.c.plan_id == plan)
    if status:
        query = query.where(_status_is(status, today))
    async with service.sessions() as session:
        rows = (await session.execute(query)).all()
    return {"items": [_assignment_json(r, today) for r in rows], "count": len(rows)}


@router.get("/assignments/work")
async def my_work(
    unit: str, days: int = Query(30, ge=1, le=366), service: Service = Depends(service_of)
) -> dict[str, Any]:
    """Việc của tôi: việc quá hạn, việc đến hạn trong `days` ngày tới, số việc theo trạng thái."""
    a = m.assignments
    today = service.clock.today_vn()
    mine = (a.c.unit_code == unit, a.c.cancelled_at.is_(None))
    async with service.sessions() as session:
        overdue = (await session.execute(select(a).where(*mine, _status_is("overdue", today)).order_by(a.c.due))).all()
        upcoming = (
            await session.execute(
                select(a)
                .where(*mine, a.c.done_at.is_(None), a.c.due >= today, a.c.due <= today + timedelta(days=days))
                .order_by(a.c.due)
            )
        ).all()
        counts = {
            s: (
                await session.execute(select(func.count()).select_from(a).where(*mine, _status_is(s, today)))
            ).scalar_one()
            for s in get_args(FollowUp)
        }
    return {
        "unit": unit,
        "today": today.isoformat(),
        "overdue": [_assignment_json(r, today) for r in overdue],
        "due_next": [_assignment_json(r, today) for r in upcoming],
        "counts": counts,
    }


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
        audit = (
            await session.execute(
                select(m.assignment_audit)
                .where(m.assignment_audit.c.assignment_id == assignment_id)
                .order_by(m.assignment_audit.c.id)
            )
        ).all()
    body = _assignment_json(row, service.clock.today_vn())
    body["audit"] = [{"at": e.at.isoformat(), **e.change} for e in audit]
    body["history"] = [  # oldest first; the last one counts
        {
            "id": str(h.id),
            "status": h.status,
            "outputs": h.outputs,
            "note": h.note,
            "reason": h.reason,
            "good_model": h.good_model,
            "evidence": h.evidence,
            "reporter": h.reporter,
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
    if body.status == "cannot_do" and not body.reason.strip():
        problems.append(FieldProblem("reason", "cần nêu lý do không thực hiện được"))
    if problems:
        raise InputError(problems)
    now = service.clock.now()
    report_id = uuid.uuid4()
    async with service.transaction() as session:
        a = m.assignments
        row = await open_assignment(session, assignment_id, unit=body.reporter.unit, lock=True)
        if row.last_reported_at is not None and now <= row.last_reported_at:
            # a correction is always later than what it corrects, even within one clock tick
            now = row.last_reported_at + timedelta(microseconds=1)
        if body.period != row.period:
            raise InputError(
                [FieldProblem("period", f"nhiệm vụ này thuộc kỳ {row.period}, không phải {body.period!r}")]
            )
        evidence = await _evidence(session, assignment_id, body.evidence)
        await session.execute(
            insert(m.progress_reports).values(
                id=report_id,
                assignment_id=assignment_id,
                status=body.status,
                outputs=body.outputs,
                note=body.note,
                reason=body.reason,
                good_model=body.good_model.strip(),
                evidence=evidence,
                reporter=body.reporter.model_dump(),
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
                service.event(
                    "progress.corrected" if row.last_reported_at else "progress.reported",
                    unit_path=row.unit_path,
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
                        reason=body.reason,
                        evidence=evidence,
                        note=body.note,
                        good_model=body.good_model.strip(),
                        done_at=done_at,
                    ),
                )
            ],
        )
    status = follow_up_status(
        due=row.due, period_start=row.period_start, done_at=done_at, today=service.clock.today_vn()
    )
    return {"id": str(report_id), "assignment_id": str(assignment_id), "status": status, "reported_at": now.isoformat()}


router.include_router(evidence_router)
