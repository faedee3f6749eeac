"""Pure rules of notifications: the rule settings of a plan or unit and how they layer, which
notification an event makes and for whom (an escalation: for the supervising unit, after its
grace period), the variables its templates get (dates as dd/mm/yyyy), what a unit's daily
digest lists, and when a delivery may go out (quiet hours, back-off)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared import units
from shared.clock import VN, format_vn
from shared.events import AssignmentCreated, OccurrenceDueSoon, OccurrenceOverdue, ReportReviewed, UnitRef
from shared.periods import Period
from shared.text import natural_key

Role = Literal["lead", "coordinating"]


class RuleSettings(BaseModel):
    """Quy tắc thông báo của một kế hoạch hoặc một đơn vị: chỉ những mục được nêu; mục không nêu
    lấy theo kế hoạch, rồi theo mặc định của hệ thống."""

    model_config = ConfigDict(extra="forbid")

    assigned: bool | None = None  # tell the unit when an assignment is created or changed
    coordinating: bool | None = None  # also tell units that only coordinate (marked as such)
    due_soon_days: list[int] | None = Field(None, max_length=10)  # among CCHC_DUE_SOON_DAYS
    overdue: bool | None = None
    escalate_after_days: int | None = Field(None, ge=0, le=90)
    escalate: bool | None = None  # false: never tell the supervising unit
    digest: bool | None = None  # units only: one daily digest instead of single messages
    digest_at: time | None = None  # Vietnam time, e.g. "07:00"

    @field_validator("due_soon_days")
    @classmethod
    def _distinct(cls, days: list[int] | None) -> list[int] | None:
        if days is not None and len(set(days)) != len(days):
            raise ValueError("mỗi mốc nhắc chỉ nêu một lần")
        return days

    @field_validator("digest_at")
    @classmethod
    def _local_time(cls, at: time | None) -> time | None:
        if at is not None and at.tzinfo is not None:
            raise ValueError("giờ theo giờ Việt Nam, không kèm múi giờ (ví dụ 07:00)")
        return at


@dataclass(frozen=True)
class Rules:
    """The rules in force for one unit and plan: the deployment's defaults, overridden by the
    plan's rules, overridden by the unit's."""

    due_soon_days: tuple[int, ...]
    assigned: bool = True
    coordinating: bool = True
    overdue: bool = True
    escalate: bool = True
    escalate_after_days: int = 3
    digest: bool = False
    digest_at: time = time(7, 0)

    def merged(self, *layers: dict[str, Any] | None) -> Rules:
        rules = self
        for layer in layers:
            if not layer:
                continue
            given = RuleSettings.model_validate(layer).model_dump(exclude_none=True)
            if "due_soon_days" in given:
                given["due_soon_days"] = tuple(sorted(given["due_soon_days"], reverse=True))
            rules = replace(rules, **given)
        return rules

    def tells(self, role: Role, rule: Literal["assigned", "due_soon", "overdue"]) -> bool:
        if role == "coordinating" and not self.coordinating:
            return False
        return rule == "due_soon" or bool(getattr(self, rule))


def supervisor(path: str) -> UnitRef | None:
    """The supervising unit (đơn vị cấp trên) of the unit at `path`, who hears of its overdue
    tasks: its parent in the unit tree; none for a province."""
    code = units.parent(path)
    if code is None:
        return None
    return UnitRef(code=code, path=units.SEPARATOR.join(units.ancestors(path)[:-1]))


def escalate_on(due: date, grace_days: int, *, noticed: date | None = None) -> date:
    """The overdue notice goes out the day after the due date (or later, if it was late: after
    an outage, or a due date moved into the past); the supervisor hears after the grace."""
    return max(due + timedelta(days=1), noticed or due) + timedelta(days=grace_days)


# Where a notification sends its reader: the pages of the web app (served at the base URL), not
# the API's JSON.
def assignment_page(base_url: str, assignment_id: uuid.UUID) -> str:
    return f"{base_url}/assignments/{assignment_id}"


def report_page(base_url: str, unit_code: str, period: str) -> str:
    return f"{base_url}/reports/{unit_code}/{period}"


def plan_page(base_url: str, plan_id: uuid.UUID | str) -> str:
    return f"{base_url}/plans/{plan_id}"


def inbox_page(base_url: str) -> str:
    return f"{base_url}/inbox"


@dataclass(frozen=True)
class NewNotification:
    dedup_key: str  # (rule, occurrence, recipient): one notification whatever the redeliveries
    unit_code: str
    unit_path: str
    kind: str
    subject_id: uuid.UUID
    context: dict[str, Any]  # the variables of the templates


def task_context(event: AssignmentCreated | OccurrenceDueSoon | OccurrenceOverdue, base_url: str) -> dict[str, Any]:
    return {
        "unit_name": event.unit.name or event.unit.code,
        "unit_code": event.unit.code,
        "task_ref": event.task_ref,
        "task_title": event.task_title,
        "plan_id": str(event.plan_id),
        "plan_number": event.plan_number,
        "period": Period.parse(event.period).label_vi(),
        "due": format_vn(event.due),
        "due_iso": event.due.isoformat(),
        "days_left": getattr(event, "days_left", None),
        "days_late": None,
        "link": assignment_page(base_url, event.assignment_id),
        "plan_link": plan_page(base_url, event.plan_id),
        "role": event.role,
    }


def assigned(event: AssignmentCreated, *, base_url: str) -> NewNotification:
    return NewNotification(
        dedup_key=f"assigned:{event.assignment_id}:{event.unit.code}",
        unit_code=event.unit.code,
        unit_path=event.unit.path,
        kind="assigned",
        subject_id=event.assignment_id,
        context=task_context(event, base_url),
    )


def changed(event: AssignmentCreated, *, base_url: str) -> NewNotification:
    """An amendment reworded, rescheduled or moved the assignment: one notice per state it was
    changed to (an update re-sent under a new event id is not a new change)."""
    state = hashlib.sha256(f"{event.task_title}|{event.role}|{event.period}".encode()).hexdigest()[:16]
    return NewNotification(
        dedup_key=f"changed:{event.assignment_id}:{event.due.isoformat()}:{event.unit.code}:{state}",
        unit_code=event.unit.code,
        unit_path=event.unit.path,
        kind="changed",
        subject_id=event.assignment_id,
        context=task_context(event, base_url),
    )


def escalated(
    *, assignment_id: uuid.UUID, due: date, supervisor: UnitRef, context: dict[str, Any], today: date
) -> NewNotification:
    """To the supervising unit, once per overdue occurrence (its due date)."""
    return NewNotification(
        dedup_key=f"escalated:{assignment_id}:{due.isoformat()}:{supervisor.code}",
        unit_code=supervisor.code,
        unit_path=supervisor.path,
        kind="escalated",
        subject_id=assignment_id,
        context={**context, "days_late": (today - due).days},
    )


def reviewed(event: ReportReviewed, *, accepted: bool, base_url: str) -> NewNotification:
    """report.accepted / report.returned, to the unit that reported."""
    kind = "report_accepted" if accepted else "report_returned"
    return NewNotification(
        dedup_key=f"{kind}:{event.report_id}:{event.version}:{event.unit.code}",
        unit_code=event.unit.code,
        unit_path=event.unit.path,
        kind=kind,
        subject_id=event.report_id,
        context={
            "unit_name": event.unit.name or event.unit.code,
            "unit_code": event.unit.code,
            "period": Period.parse(event.period).label_vi(),
            "version": event.version,
            "reviewer_name": event.reviewer.name or event.reviewer.code,
            "reason": event.reason,
            "decided_on": format_vn(event.decided_at.astimezone(VN).date()),
            "link": report_page(base_url, event.unit.code, event.period),
        },
    )


def overdue(event: OccurrenceOverdue, *, base_url: str) -> NewNotification:
    return NewNotification(
        dedup_key=f"overdue:{event.assignment_id}:{event.due.isoformat()}:{event.unit.code}",  # a new due, a new notice
        unit_code=event.unit.code,
        unit_path=event.unit.path,
        kind="overdue",
        subject_id=event.assignment_id,
        context=task_context(event, base_url),
    )


def due_soon(event: OccurrenceDueSoon, *, base_url: str) -> NewNotification:
    return NewNotification(
        dedup_key=f"due_soon:{event.lead_days}:{event.assignment_id}:{event.due.isoformat()}:{event.unit.code}",
        unit_code=event.unit.code,
        unit_path=event.unit.path,
        kind="due_soon",
        subject_id=event.assignment_id,
        context=task_context(event, base_url),
    )


def quiet_until(at: datetime, start: time | None, end: time | None) -> datetime:
    """`at`, or the end of the contact's quiet hours (Vietnam time) if `at` falls inside them;
    a window may run over midnight (22:00–06:30)."""
    if start is None or end is None or start == end:
        return at
    local = at.astimezone(VN)
    now = local.time()
    inside = start <= now < end if start < end else (now >= start or now < end)
    if not inside:
        return at
    ends = datetime.combine(local.date(), end, tzinfo=VN)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(at.tzinfo)


def backoff(attempts: int, base: float, *, jitter: float) -> timedelta:
    """Wait before the next attempt: base × 2^(attempts−1), times a jitter factor in [0.5, 1.5),
    at most six hours."""
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 6 * 3600) * (0.5 + jitter))


# Where each kind of notification goes in a digest.
DIGEST_SECTION = {
    "overdue": "overdue",
    "escalated": "escalated",
    "due_soon": "due_soon",
    "assigned": "assigned",
    "changed": "assigned",
    "report_accepted": "reports",
    "report_returned": "reports",
}
SECTIONS = ("overdue", "escalated", "due_soon", "assigned", "reports")


@dataclass(frozen=True)
class Held:
    """A notification held for a digest."""

    kind: str
    subject_id: uuid.UUID
    title: str
    context: dict[str, Any]


def digest(unit_code: str, unit_path: str, day: date, items: list[Held], *, base_url: str) -> NewNotification:
    """One message for the day: grouped by plan, overdue first, then what the unit's children
    left overdue, what is due soon, what was assigned or changed; report decisions last.
    A task reminded twice (7 days, then 1 day) is listed once; one already overdue is not also
    listed as due soon; days left and days late are counted to the digest's day."""
    latest: dict[tuple[str, uuid.UUID], Held] = {}
    for item in items:
        latest[(DIGEST_SECTION.get(item.kind, "assigned"), item.subject_id)] = item
    for section, subject in list(latest):
        if section == "due_soon" and ("overdue", subject) in latest:
            del latest[(section, subject)]
    plans: dict[str, dict[str, Any]] = {}
    for (section, _), item in latest.items():
        plan_id = item.context.get("plan_id") or ""
        label = f"Kế hoạch {item.context.get('plan_number') or '(chưa có số)'}" if plan_id else "Báo cáo định kỳ"
        link = plan_page(base_url, plan_id) if plan_id else None
        group = plans.setdefault(plan_id, {"label": label, "link": link, **{s: [] for s in SECTIONS}})
        entry = {**item.context, "kind": item.kind, "title": item.title}
        if item.context.get("due_iso"):
            days = (date.fromisoformat(item.context["due_iso"]) - day).days
            entry["days_left"], entry["days_late"] = max(days, 0), max(-days, 0)
        group[section].append(entry)
    for group in plans.values():
        for section in SECTIONS:
            group[section].sort(
                key=lambda i: (i.get("due_iso") or "", natural_key(i.get("task_ref") or ""), i.get("unit_code") or "")
            )
    ordered = sorted(plans.values(), key=lambda g: (g["label"] == "Báo cáo định kỳ", natural_key(g["label"])))
    counts = {s: sum(len(g[s]) for g in ordered) for s in SECTIONS}
    names = [i.context["unit_name"] for i in items if i.kind != "escalated" and i.context.get("unit_code") == unit_code]
    return NewNotification(
        dedup_key=digest_key(unit_code, day),
        unit_code=unit_code,
        unit_path=unit_path,
        kind="digest",
        subject_id=uuid.uuid5(uuid.NAMESPACE_URL, digest_key(unit_code, day)),
        context={
            "unit_name": names[0] if names else unit_code,
            "unit_code": unit_code,
            "date": format_vn(day),
            "plans": ordered,
            "counts": counts,
            "total": len(latest),
            "link": inbox_page(base_url),
        },
    )


def digest_key(unit_code: str, day: date) -> str:
    return f"digest:{unit_code}:{day.isoformat()}"
