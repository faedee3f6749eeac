"""Submission of periodic reports up the unit tree.

A unit submits its report for a period to its parent (report.submitted); the parent accepts it
(report.accepted: the report is locked, and the tasks service refuses later corrections for the
unit's subtree in that period) or returns it with a reason (report.returned); a returned report
is resubmitted as the next version. The parent reopens an accepted report (report.returned: it is
unlocked, and the unit corrects and resubmits it as the next version); returning an accepted
report reopens it too, but is recorded as a return. Each version keeps
the figures as they were submitted. One (unit, period) is changed by one request at a time.
The routes are in api.py; these functions take a session and do one thing each.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.reports import models as m
from services.reports import queries as q
from services.reports.queries import get_unit_or_raise
from shared import pages
from shared.access import Caller, Right
from shared.clock import vn_date
from shared.errors import Conflict, FieldProblem, Forbidden, InputError, NotFound
from shared.events import Event, ReportReviewed, ReportSubmitted, UnitRef
from shared.limits import Note, ShortText
from shared.periods import Period, PeriodError

PERIODIC = ("quarter", "half", "nine_months", "year")
STATUS_LABELS = {
    "not_submitted": "Chưa gửi",
    "submitted": "Đã gửi, chờ tiếp nhận",
    "accepted": "Đã tiếp nhận",
    "returned": "Bị trả lại",
    "reopened": "Đã mở lại để điều chỉnh",
}


def periodic(period: str) -> Period:
    try:
        wanted = Period.parse(period)
    except PeriodError as exc:
        raise InputError([FieldProblem("period", str(exc))]) from None
    if wanted.kind not in PERIODIC:
        raise InputError(
            [
                FieldProblem(
                    "period", "báo cáo định kỳ theo quý, 6 tháng, 9 tháng hoặc năm (2026-Q1, 2026-H1, 2026-9M, 2026)"
                )
            ]
        )
    return wanted


class Person(BaseModel):
    """Who acts, as clients before identity named it. Kept for compatibility: it must name the
    unit acting here and the caller itself (else 403); what is stored comes from the credential."""

    unit: str = Field(min_length=1, max_length=50)
    name: str = Field("", max_length=200)


class SubmitIn(BaseModel):
    by: Person | None = None  # the unit itself
    number: ShortText = ""  # số, ký hiệu văn bản, e.g. 15/BC-UBND
    note: Note = ""


class ReviewIn(BaseModel):
    by: Person | None = None  # the direct parent
    reason: Note = ""


def _agrees(by: Person | None, *, acting: Any, caller: Caller) -> None:
    """A `by` the body still sends must say what the credential says: the unit acting and,
    if named, the person logged in."""
    if by is None:
        return
    if by.unit != acting.code:
        raise Forbidden(
            f"“by.unit” là {by.unit}, nhưng việc này do {acting.name} ({acting.code}) làm; "
            "người làm là người đăng nhập, không do nội dung yêu cầu nêu"
        )
    if by.name.strip() and by.name.strip() != caller.name:
        raise Forbidden(
            f"“by.name” là {by.name.strip()!r}, không phải người đăng nhập ({caller.name or caller.subject})"
        )


def may_submit(caller: Caller, own: Any) -> None:
    """A unit submits its own report: its head (right `submit` on the unit itself), not a
    superior on its behalf; a national client (operators, the system's tests) acts for any."""
    caller.require(Right.submit, own.path)  # shared.access: the unit itself only


def _ref(row: Any) -> UnitRef:
    return UnitRef(code=row.code, path=row.path, name=row.name, level=row.level)


async def _latest(session: AsyncSession, unit: str, period: Period, *, lock: bool = False) -> Any:
    s = m.submissions
    if lock:  # one change at a time per (unit, period), also before its first version exists
        await session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(f"reports.submission.{unit}.{period.code}")))
        )
    return (
        await session.execute(
            select(s).where(s.c.unit_code == unit, s.c.period == period.code).order_by(s.c.version.desc()).limit(1)
        )
    ).first()


def submission_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "unit": row.unit_code,
        "period": row.period,
        "version": row.version,
        "status": row.status,
        "status_label": STATUS_LABELS[row.status],
        "parent": row.parent_code,
        "number": row.number,
        "submitted_by": row.submitted_by,
        "submitted_by_subject": row.submitted_by_subject,
        "submitted_at": row.submitted_at.isoformat(),
        "note": row.note,
        "totals": row.totals,
        "decided_by": row.decided_by,
        "decided_by_subject": row.decided_by_subject,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "reason": row.reason,
    }


@dataclass(frozen=True)
class Decided:
    """A submission as it now stands, and the event that says so."""

    row: Any
    events: list[Event]


async def submit(
    session: AsyncSession, *, unit: str, period: str, body: SubmitIn, caller: Caller, now: datetime, today: date
) -> Decided:
    """Send a unit's periodic report to its parent with its figures as of now (a new version
    after a return); refused while one waits or after it was accepted. Sent by the caller."""
    own = await get_unit_or_raise(session, unit)
    may_submit(caller, own)
    _agrees(body.by, acting=own, caller=caller)
    wanted = periodic(period)
    if not own.parent:
        raise Conflict(f"{own.name} không có cấp trên trong hệ thống để gửi báo cáo")
    parent = await get_unit_or_raise(session, own.parent)
    latest = await _latest(session, unit, wanted, lock=True)
    if latest is not None and latest.status == "submitted":
        raise Conflict(f"báo cáo {wanted.label_vi()} (lần {latest.version}) đang chờ {parent.name} tiếp nhận")
    if latest is not None and latest.status == "accepted":
        raise Conflict(f"báo cáo {wanted.label_vi()} đã được tiếp nhận và khóa; cần {parent.name} mở lại")
    totals = await q.totals(session, q.Scope(unit=unit, period=wanted), today)
    version = (latest.version if latest is not None else 0) + 1
    report_id = uuid.uuid4()
    row = (
        await session.execute(
            m.submissions.insert()
            .values(
                id=report_id,
                unit_code=unit,
                period=wanted.code,
                version=version,
                parent_code=parent.code,
                status="submitted",
                number=body.number.strip(),
                submitted_by=caller.name or own.name,
                submitted_by_subject=caller.subject,
                submitted_at=now,
                note=body.note.strip(),
                totals=totals,
            )
            .returning(m.submissions)
        )
    ).one()
    event = ReportSubmitted(
        report_id=report_id,
        unit=_ref(own),
        period=wanted.code,
        version=version,
        parent=_ref(parent),
        submitted_at=now,
    )
    return Decided(row, [Event("report.submitted", unit_path=own.path, payload=event, at=now)])


Decision = Literal["accepted", "returned", "reopened"]
# The state of the latest version each decision is taken on (a return of an accepted report
# reopens it too, as it always did), its verb in a refusal, and the event that tells it: a
# reopening is a return of an accepted version to the services that listen (tasks unlocks the
# period, notify tells the unit with the reason).
DECIDES_ON: dict[Decision, tuple[str, ...]] = {
    "accepted": ("submitted",),
    "returned": ("submitted", "accepted"),
    "reopened": ("accepted",),
}
VERBS: dict[Decision, str] = {"accepted": "tiếp nhận", "returned": "trả lại", "reopened": "mở lại"}
EVENT_TYPES: dict[Decision, str] = {
    "accepted": "report.accepted",
    "returned": "report.returned",
    "reopened": "report.returned",
}


async def review(
    session: AsyncSession,
    *,
    unit: str,
    period: str,
    body: ReviewIn,
    decision: Decision,
    caller: Caller,
    now: datetime,
    today: date,
) -> Decided:
    """The direct parent accepts the waiting version (refused if its figures moved since it was
    sent), returns it with a reason, or reopens an accepted one with a reason so that the unit
    corrects and resubmits it. Decided by the caller, who must be the head of the direct parent
    (or national)."""
    own = await get_unit_or_raise(session, unit)
    caller.require(Right.review, own.path)
    if not own.parent:
        raise Conflict(f"{own.name} không có cấp trên trong hệ thống để tiếp nhận báo cáo")
    reviewer = await get_unit_or_raise(session, own.parent)
    _agrees(body.by, acting=reviewer, caller=caller)
    wanted = periodic(period)
    if decision != "accepted" and not body.reason.strip():
        raise InputError([FieldProblem("reason", f"cần nêu lý do {VERBS[decision]} báo cáo")])
    latest = await _latest(session, unit, wanted, lock=True)
    if latest is None:
        raise NotFound(f"{own.name} chưa gửi báo cáo {wanted.label_vi()}")
    if latest.status not in DECIDES_ON[decision]:
        state = STATUS_LABELS[latest.status].lower()
        raise Conflict(f"báo cáo {wanted.label_vi()} (lần {latest.version}) {state}; không thể {VERBS[decision]}")
    if decision == "accepted":
        moved = drift(latest.totals, await q.totals(session, q.Scope(unit=unit, period=wanted), today))
        if moved:
            raise Conflict(
                f"số liệu của {own.name} đã thay đổi từ khi gửi báo cáo lần {latest.version} ("
                + "; ".join(moved)
                + "): cần trả lại để đơn vị gửi lại số liệu mới"
            )
    s = m.submissions
    row = (
        await session.execute(
            update(s)
            .where(s.c.id == latest.id)
            .values(
                status=decision,
                decided_by=caller.name or reviewer.name,
                decided_by_subject=caller.subject,
                decided_at=now,
                reason=body.reason.strip(),
            )
            .returning(s)
        )
    ).one()
    event = ReportReviewed(
        report_id=latest.id,
        unit=_ref(own),
        period=wanted.code,
        version=latest.version,
        reviewer=_ref(reviewer),
        reason=body.reason.strip(),
        decided_at=now,
    )
    return Decided(row, [Event(EVENT_TYPES[decision], unit_path=own.path, payload=event, at=now)])


# Figures a report's own progress reports decide. The other states (in progress, overdue, not
# yet due) move with the calendar alone, so they may differ between sending and accepting.
REPORTED = {
    "expected": "phải báo cáo",
    "reported": "đã báo cáo",
    "on_time": "đúng hạn",
    "done_on_time": "hoàn thành đúng hạn",
    "done_late": "hoàn thành quá hạn",
}


def drift(sent: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What changed between the figures as submitted and as they are now ("đã báo cáo 12 → 13"):
    accepting would lock figures the parent has not seen."""

    def value(totals: dict[str, Any], key: str) -> Any:
        return totals[key] if key in totals else totals.get("states", {}).get(key)

    return [
        f"{label} {value(sent, key)} → {value(now, key)}"
        for key, label in REPORTED.items()
        if value(sent, key) != value(now, key)
    ]


VERSIONS = pages.Key("submissions", (int,))  # the newest first
CHILDREN = pages.Key("children-submissions", (int, int, str, str))  # not sent and the latest first


async def list_(session: AsyncSession, *, unit: str, period: str, caller: Caller, page: pages.Ask) -> pages.Page:
    """A page of the versions a unit sent for a period, the newest first, with the decisions on
    them: read by the unit itself (what its parent decided on its reports) and its superiors."""
    await get_unit_or_raise(session, unit, caller=caller)
    wanted = periodic(period)
    s = m.submissions
    query = select(s).where(s.c.unit_code == unit, s.c.period == wanted.code)
    if (after := page.where(s.c.version, descending=True)) is not None:
        query = query.where(after)
    rows = (await session.execute(query.order_by(s.c.version.desc()).limit(page.limit + 1))).all()
    return page.cut(rows, lambda r: (r.version,))


DueFor = Callable[[Period, str], date]  # the report deadline of a level in a period


async def children(
    session: AsyncSession, *, unit: str, period: str, caller: Caller, today: date, due_for: DueFor, page: pages.Ask
) -> dict[str, Any]:
    """Where each direct child stands with its report for the period, with its deadline by
    level: not sent and the latest first, a page of them (`counts` are of them all). Read by
    the unit and its superiors."""
    own = await get_unit_or_raise(session, unit, caller=caller)
    wanted = periodic(period)
    u, s = m.units, m.submissions
    rows = (await session.execute(select(u).where(u.c.parent == unit).order_by(u.c.name))).all()
    latest = (
        await session.execute(
            select(s)
            .ext(distinct_on(s.c.unit_code))
            .where(s.c.parent_code == unit, s.c.period == wanted.code)
            .order_by(s.c.unit_code, s.c.version.desc())
        )
    ).all()
    by_unit = {row.unit_code: row for row in latest}
    items = []
    for child in rows:
        row = by_unit.get(child.code)
        due = due_for(wanted, child.level)
        status = row.status if row is not None else "not_submitted"
        sent_on = vn_date(row.submitted_at) if row is not None and status in ("submitted", "accepted") else None
        days_late = max(((sent_on or today) - due).days, 0)  # returned or reopened: still owed
        items.append(
            {
                "unit": child.code,
                "name": child.name,
                "level": child.level,
                "due": due.isoformat(),
                "status": status,
                "status_label": STATUS_LABELS[status],
                "version": row.version if row is not None else 0,
                "submitted_at": row.submitted_at.isoformat() if row is not None else None,
                "late": days_late > 0,
                "days_late": days_late,
            }
        )
    order = {"not_submitted": 0, "returned": 1, "reopened": 2, "submitted": 3, "accepted": 4}

    def key(i: dict[str, Any]) -> tuple[int, int, str, str]:
        return (order[i["status"]], -i["days_late"], i["name"], i["unit"])

    items.sort(key=key)
    counts = {status: sum(1 for i in items if i["status"] == status) for status in order}
    return {
        "unit": unit,
        "unit_name": own.name,
        "period": wanted.code,
        "due": due_for(wanted, own.level).isoformat(),
        "counts": counts,
        **page.take(items, key).json(),
    }
