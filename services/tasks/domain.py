"""Pure rules of task tracking: which assignments a version of a plan calls for, and what an
amendment changes in the ones that exist. (The follow-up states live in shared/followup.py:
reports counts them too.)"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from shared.deadlines import DueRules
from shared.events import AssignmentCreated, PlanTask, UnitRef
from shared.periods import Period
from shared.timelines import occurrences
from shared.workdays import WorkingCalendar


@dataclass(frozen=True)
class NewAssignment:
    id: uuid.UUID
    task_ref: str
    task_title: str
    unit: UnitRef
    role: str
    period: Period
    due: date

    def announced(self, *, plan_id: uuid.UUID, number: str) -> AssignmentCreated:
        """The payload of its assignment.created (or .updated): the assignment as it now stands."""
        return AssignmentCreated(
            assignment_id=self.id,
            plan_id=plan_id,
            plan_number=number,
            task_ref=self.task_ref,
            task_title=self.task_title,
            unit=self.unit,
            role=self.role,  # type: ignore[arg-type]
            period=period_code(self.period),
            due=self.due,
        )


@functools.lru_cache(maxsize=4096)
def period_code(period: Period) -> str:
    """Period.code, made once per period: a national plan's fan-out asks it for each of its
    tens of thousands of assignments, three times (6 % of the tasks service's time)."""
    return period.code


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
                key = f"{plan_id}/{task.ref}/{unit.code}/{period_code(occurrence.period)}"
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


@dataclass(frozen=True)
class Current:
    """What an existing assignment says of its task, as an amendment may change it."""

    task_title: str
    due: date
    plan_number: str


@dataclass(frozen=True)
class Amendment:
    """Existing assignments a new version rewords or reschedules (announced as
    assignment.updated), and among them those whose due date moved (reminded again)."""

    changed: list[NewAssignment]
    rescheduled: list[NewAssignment]


def amendment(wanted: Sequence[NewAssignment], current: Mapping[uuid.UUID, Current], *, number: str) -> Amendment:
    """Compare the assignments a new version calls for with those that exist (by id): a new
    title, due date or plan number is a change; the rows themselves and their reports stay."""
    changed = [
        w
        for w in wanted
        if w.id in current and current[w.id] != Current(task_title=w.task_title, due=w.due, plan_number=number)
    ]
    return Amendment(changed=changed, rescheduled=[w for w in changed if current[w.id].due != w.due])
