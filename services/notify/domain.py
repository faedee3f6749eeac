"""Pure rules of notifications: which rule fires for an event, and the Vietnamese text."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared.clock import format_vn
from shared.events import AssignmentCreated, OccurrenceDueSoon, OccurrenceOverdue
from shared.periods import Period


@dataclass(frozen=True)
class NewNotification:
    dedup_key: str
    unit_code: str
    kind: str
    subject_id: uuid.UUID
    title: str
    body: str
    link: str


def assigned(event: AssignmentCreated, *, base_url: str) -> NewNotification:
    period = Period.parse(event.period).label_vi()
    return NewNotification(
        dedup_key=f"assigned:{event.assignment_id}:{event.unit.code}",
        unit_code=event.unit.code,
        kind="assigned",
        subject_id=event.assignment_id,
        title=f"Nhiệm vụ mới: {event.task_title}",
        body=(
            f'{event.unit.name} được giao chủ trì nhiệm vụ {event.task_ref} "{event.task_title}" '
            f"của Kế hoạch {event.plan_number or '(chưa có số)'} cho {period}; "
            f"hạn báo cáo: {format_vn(event.due)}."
        ),
        link=f"{base_url}/api/assignments/{event.assignment_id}",
    )


def overdue(event: OccurrenceOverdue, *, base_url: str) -> NewNotification:
    period = Period.parse(event.period).label_vi()
    return NewNotification(
        dedup_key=f"overdue:{event.assignment_id}:{event.due.isoformat()}:{event.unit.code}",  # a new due, a new notice
        unit_code=event.unit.code,
        kind="overdue",
        subject_id=event.assignment_id,
        title=f"Quá hạn: {event.task_title}",
        body=(
            f'Nhiệm vụ {event.task_ref} "{event.task_title}" ({period}) của {event.unit.name} '
            f"đã quá hạn báo cáo ngày {format_vn(event.due)} mà chưa có báo cáo hoàn thành."
        ),
        link=f"{base_url}/api/assignments/{event.assignment_id}",
    )


def due_soon(event: OccurrenceDueSoon, *, base_url: str) -> NewNotification:
    period = Period.parse(event.period).label_vi()
    when = "hôm nay" if event.days_left == 0 else f"còn {event.days_left} ngày"
    return NewNotification(
        dedup_key=f"due_soon:{event.lead_days}:{event.assignment_id}:{event.due.isoformat()}:{event.unit.code}",
        unit_code=event.unit.code,
        kind="due_soon",
        subject_id=event.assignment_id,
        title=f"Sắp đến hạn ({when}): {event.task_title}",
        body=(
            f'Nhiệm vụ {event.task_ref} "{event.task_title}" ({period}) của {event.unit.name} '
            f"đến hạn báo cáo ngày {format_vn(event.due)} ({when})."
        ),
        link=f"{base_url}/api/assignments/{event.assignment_id}",
    )
