"""Pure rules of notifications: which rule fires for an event, for whom, and what the message
says (rendered from the templates in Vietnamese, dates as dd/mm/yyyy)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from shared.clock import VN, format_vn
from shared.events import AssignmentCreated, OccurrenceDueSoon, OccurrenceOverdue
from shared.periods import Period


@dataclass(frozen=True)
class NewNotification:
    dedup_key: str  # (rule, occurrence, recipient): one notification whatever the redeliveries
    unit_code: str
    unit_path: str
    kind: str
    subject_id: uuid.UUID
    context: dict[str, Any]  # the variables of the templates


def _context(event: AssignmentCreated | OccurrenceDueSoon | OccurrenceOverdue, base_url: str) -> dict[str, Any]:
    return {
        "unit_name": event.unit.name or event.unit.code,
        "unit_code": event.unit.code,
        "task_ref": event.task_ref,
        "task_title": event.task_title,
        "plan_number": getattr(event, "plan_number", ""),
        "period": Period.parse(event.period).label_vi(),
        "due": format_vn(event.due),
        "days_left": getattr(event, "days_left", None),
        "link": f"{base_url}/api/assignments/{event.assignment_id}",
        "role": getattr(event, "role", "lead"),
    }


def assigned(event: AssignmentCreated, *, base_url: str) -> NewNotification:
    return NewNotification(
        dedup_key=f"assigned:{event.assignment_id}:{event.unit.code}",
        unit_code=event.unit.code,
        unit_path=event.unit.path,
        kind="assigned",
        subject_id=event.assignment_id,
        context=_context(event, base_url),
    )


def overdue(event: OccurrenceOverdue, *, base_url: str) -> NewNotification:
    return NewNotification(
        dedup_key=f"overdue:{event.assignment_id}:{event.due.isoformat()}:{event.unit.code}",  # a new due, a new notice
        unit_code=event.unit.code,
        unit_path=event.unit.path,
        kind="overdue",
        subject_id=event.assignment_id,
        context=_context(event, base_url),
    )


def due_soon(event: OccurrenceDueSoon, *, base_url: str) -> NewNotification:
    return NewNotification(
        dedup_key=f"due_soon:{event.lead_days}:{event.assignment_id}:{event.due.isoformat()}:{event.unit.code}",
        unit_code=event.unit.code,
        unit_path=event.unit.path,
        kind="due_soon",
        subject_id=event.assignment_id,
        context=_context(event, base_url),
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
