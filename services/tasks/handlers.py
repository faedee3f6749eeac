"""Event subscribers of the tasks service: an issued plan becomes assignments."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.tasks import models as m
from services.tasks.domain import assignments_for
from shared.bus import Subscription
from shared.events import AssignmentCreated, Envelope, PlanIssued, make_event

PRODUCER = "tasks"


async def plan_issued(session: AsyncSession, envelope: Envelope) -> list[Envelope]:
    plan = PlanIssued.model_validate(envelope.payload)
    new = assignments_for(plan)
    if not new:
        return []
    inserted = set(
        (
            await session.execute(
                insert(m.assignments)
                .values(
                    [
                        {
                            "id": a.id,
                            "plan_id": plan.plan_id,
                            "plan_number": plan.number,
                            "task_ref": a.task_ref,
                            "task_title": a.task_title,
                            "unit_code": a.unit.code,
                            "unit_path": a.unit.path,
                            "unit_name": a.unit.name,
                            "role": a.role,
                            "period": a.period.code,
                            "period_start": a.period.start,
                            "due": a.due,
                        }
                        for a in new
                    ]
                )
                .on_conflict_do_nothing()
                .returning(m.assignments.c.id)
            )
        )
        .scalars()
        .all()
    )
    return [
        make_event(
            "assignment.created",
            unit_path=a.unit.path,
            producer=PRODUCER,
            at=envelope.occurred_at,
            payload=AssignmentCreated(
                assignment_id=a.id,
                plan_id=plan.plan_id,
                plan_number=plan.number,
                task_ref=a.task_ref,
                task_title=a.task_title,
                unit=a.unit,
                role=a.role,  # type: ignore[arg-type]
                period=a.period.code,
                due=a.due,
            ),
        )
        for a in new
        if a.id in inserted
    ]


SUBSCRIPTIONS = [Subscription("plan.issued", plan_issued)]
