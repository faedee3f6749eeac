"""Progress reports (báo cáo tiến độ) of an assignment: what a report may say, and reporting one.
A later report for the same occurrence corrects the earlier one; every report is kept, with who
reported it as the credential says (never as the body says)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, HttpUrl, model_validator
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.tasks import evidence as files
from services.tasks import models as m
from services.tasks.access import open_assignment
from shared import followup
from shared.access import Caller
from shared.clock import vn_date
from shared.errors import FieldProblem, InputError
from shared.events import MAX_COUNT, Event, ProgressReported
from shared.limits import FEW, Code, Name, Note, ShortText
from shared.units import unit_ref
from shared.vocabularies import unknown_kinds


class Evidence(BaseModel):
    """A link to what was published, the number of a document (e.g. "45/BC-UBND"), or a file
    uploaded for this assignment (POST /api/assignments/{id}/evidence)."""

    kind: Literal["link", "document", "file"]
    url: HttpUrl | None = None
    number: ShortText = ""
    title: Name = ""
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
    """Kept for compatibility: who reports is the caller. `unit`, if sent, must be the
    assignment's unit (403 otherwise); `name` is not stored (the caller's name is)."""

    unit: Code | None = None
    name: Name = ""


class ProgressIn(BaseModel):
    period: ShortText
    status: Literal["not_started", "in_progress", "done", "cannot_do"]
    outputs: dict[ShortText, Annotated[int, Field(le=MAX_COUNT)]] = Field({}, max_length=FEW)
    note: Note = ""
    reason: Note = ""
    good_model: Note = ""  # mô hình hay, cách làm hiệu quả, worth spreading
    evidence: list[Evidence] = Field([], max_length=50)
    reporter: Reporter = Field(default_factory=lambda: Reporter(unit=None, name=""))


@dataclass(frozen=True)
class Reported:
    """A stored report and the follow-up state it leaves the assignment in."""

    id: uuid.UUID
    assignment_id: uuid.UUID
    state: followup.FollowUp
    reported_at: datetime
    events: list[Event]

    def json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "assignment_id": str(self.assignment_id),
            "status": self.state.value,
            "reported_at": self.reported_at.isoformat(),
        }


def check(body: ProgressIn) -> None:
    """What a report says, checked before anything is read or stored (422 naming the fields)."""
    problems = [
        FieldProblem(f"outputs.{k}", "loại sản phẩm không có trong danh mục") for k in unknown_kinds(list(body.outputs))
    ]
    problems += [FieldProblem(f"outputs.{k}", "số lượng không được âm") for k, v in body.outputs.items() if v < 0]
    if body.status == "cannot_do" and not body.reason.strip():
        problems.append(FieldProblem("reason", "cần nêu lý do không thực hiện được"))
    if problems:
        raise InputError(problems)


async def evidence_of(session: AsyncSession, assignment_id: uuid.UUID, items: list[Evidence]) -> list[dict[str, Any]]:
    """The evidence as stored and published: files carry their name, type, size and address."""
    found = await files.files_of(session, assignment_id, [e.file_id for e in items if e.file_id])
    missing = [
        FieldProblem(f"evidence[{i}].file_id", "không có tệp này trong các tệp đã tải lên cho nhiệm vụ này")
        for i, e in enumerate(items)
        if e.file_id and e.file_id not in found
    ]
    if missing:
        raise InputError(missing)
    out = []
    for e in items:
        item = e.model_dump(mode="json", exclude_defaults=True)
        if e.file_id:
            f = found[e.file_id]
            item.update(name=f.name, content_type=f.content_type, size=f.size, url=f"/api/evidence/{f.id}")
        out.append(item)
    return out


async def report(
    session: AsyncSession, *, caller: Caller, assignment_id: uuid.UUID, body: ProgressIn, now: datetime
) -> Reported:
    """Store one progress report, by the caller, for an open assignment it may report on, update
    the assignment's latest state, and return progress.reported (or .corrected for a later one)."""
    check(body)
    a = m.assignments
    row = await open_assignment(session, assignment_id, caller=caller, unit=body.reporter.unit, lock=True)
    if row.last_reported_at is not None and now <= row.last_reported_at:
        # a correction is always later than what it corrects, even within one clock tick
        now = row.last_reported_at + timedelta(microseconds=1)
    if body.period != row.period:
        raise InputError([FieldProblem("period", f"nhiệm vụ này thuộc kỳ {row.period}, không phải {body.period!r}")])
    evidence = await evidence_of(session, assignment_id, body.evidence)
    report_id = uuid.uuid4()
    good_model = body.good_model.strip()
    await session.execute(
        insert(m.progress_reports).values(
            id=report_id,
            assignment_id=assignment_id,
            status=body.status,
            outputs=body.outputs,
            note=body.note,
            reason=body.reason,
            good_model=good_model,
            evidence=evidence,
            reporter=caller.actor(),
            reported_at=now,
        )
    )
    done_at = followup.done_since(status=body.status, previous=row.done_at, at=now)
    await session.execute(
        update(a).where(a.c.id == assignment_id).values(last_status=body.status, last_reported_at=now, done_at=done_at)
    )
    event = Event(
        "progress.corrected" if row.last_reported_at else "progress.reported",
        unit_path=row.unit_path,
        at=now,
        payload=ProgressReported(
            report_id=report_id,
            assignment_id=assignment_id,
            plan_id=row.plan_id,
            unit=unit_ref(row),
            period=row.period,
            due=row.due,
            status=body.status,
            outputs=body.outputs,
            reported_at=now,
            on_time=followup.on_time(now, row.due),
            reason=body.reason,
            evidence=evidence,
            note=body.note,
            good_model=good_model,
            done_at=done_at,
        ),
    )
    state = followup.state(due=row.due, period_start=row.period_start, done_at=done_at, today=vn_date(now))
    return Reported(id=report_id, assignment_id=assignment_id, state=state, reported_at=now, events=[event])
