"""Pure rules of task tracking: which assignments a plan creates, and the follow-up status.

Statuses as Vietnamese follow-up systems count them: done_on_time (hoàn thành đúng hạn),
done_late (hoàn thành quá hạn), in_progress (đang thực hiện trong hạn), overdue (quá hạn),
and not_due (chưa đến kỳ).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from shared.clock import vn_date
from shared.deadlines import DueRules
from shared.events import PlanTask, UnitRef
from shared.periods import Period
from shared.timelines import occurrences
from shared.workdays import WorkingCalendar

REPORT_STATUSES = ("not_started", "in_progress", "done", "cannot_do")
STATUS_LABELS = {
    "done_on_time": "Hoàn thành đúng hạn",
    "done_late": "Hoàn thành quá hạn",
    "in_progress": "Đang thực hiện trong hạn",
    "overdue": "Quá hạn",
    "not_due": "Chưa đến kỳ",
}


@dataclass(frozen=True)
class NewAssignment:
    id: uuid.UUID
    task_ref: str
    task_title: str
    unit: UnitRef
    role: str
    period: Period
    due: date


def assignments_for(
    *,
    plan_id: uuid.UUID,
    period: str,
    tasks: list[PlanTask],
    calendar: WorkingCalendar | None = None,
    rules: DueRules | None = None,
) -> list[NewAssignment]:
    """One assignment per (task, responsible unit, occurrence of the task's schedule in the plan
    period): leads (chủ trì), whose report counts for the occurrence, and coordinating units
    (phối hợp), who report their contribution. Ids derive from that key, so a replay or an
    amendment finds the same assignment again. Periodic reports are due by `rules`, staggered
    by the unit's level."""
    plan_period = Period.parse(period)
    created: list[NewAssignment] = []
    for task in tasks:
        leads = {u.code for u in task.lead}
        responsible = [(u, "lead") for u in task.lead] + [
            (u, "coordinating") for u in task.coordinating if u.code not in leads
        ]
        by_level = {
            level: occurrences(task.schedule, plan_period, calendar=calendar, rules=rules, level=level)
            for level in {u.level for u, _ in responsible}
        }
        for unit, role in responsible:
            for occurrence in by_level[unit.level]:
                key = f"{plan_id}/{task.ref}/{unit.code}/{occurrence.period.code}"
                created.append(
                    NewAssignment(
                        id=uuid.uuid5(uuid.NAMESPACE_URL, key),  # stable: a replay finds the same id
                        task_ref=task.ref,
                        task_title=task.title,
                        unit=unit,
                        role=role,
                        period=occurrence.period,
                        due=occurrence.due,
                    )
                )
    return created


def follow_up_status(*, due: date, period_start: date, done_at: datetime | None, today: date) -> str:
    if done_at is not None:
        return "done_on_time" if vn_date(done_at) <= due else "done_late"
    if today > due:
        return "overdue"
    if today < period_start:
        return "not_due"
    return "in_progress"


def on_time(reported_at: datetime, due: date) -> bool:
    return vn_date(reported_at) <= due
