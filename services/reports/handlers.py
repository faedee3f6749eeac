"""Event subscribers of the reports service: keep the read models current.

Effects are idempotent and order-tolerant: a late, older progress report never overwrites a
newer one (compared by reported_at, not arrival order)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.reports import models as m
from services.reports.domain import ancestors
from shared.bus import Subscription
from shared.events import AssignmentCreated, Envelope, ProgressReported, UnitCreated
from shared.periods import Period


async def unit_created(session: AsyncSession, envelope: Envelope) -> list[Envelope]:
    unit = UnitCreated.model_validate(envelope.payload)
    values = {"name": unit.name, "level": unit.level, "parent": unit.parent, "path": unit.path}
    await session.execute(
        insert(m.units).values(code=unit.code, **values).on_conflict_do_update(index_elements=["code"], set_=values)
    )
    return []


async def assignment_created(session: AsyncSession, envelope: Envelope) -> list[Envelope]:
    event = AssignmentCreated.model_validate(envelope.payload)
    period = Period.parse(event.period)
    await session.execute(
        insert(m.assignments)
        .values(
            id=event.assignment_id,
            plan_id=event.plan_id,
            task_ref=event.task_ref,
            unit_code=event.unit.code,
            unit_path=event.unit.path,
            ancestors=ancestors(event.unit.path),
            period=period.code,
            period_start=period.start,
            period_end=period.end,
            due=event.due,
        )
        .on_conflict_do_nothing()
    )
    return []


async def progress_reported(session: AsyncSession, envelope: Envelope) -> list[Envelope]:
    event = ProgressReported.model_validate(envelope.payload)
    p = m.progress
    statement = insert(p).values(
        assignment_id=event.assignment_id,
        report_id=event.report_id,
        status=event.status,
        outputs=event.outputs,
        first_reported_at=event.reported_at,
        last_reported_at=event.reported_at,
    )
    newer = statement.excluded.last_reported_at > p.c.last_reported_at

    def newest(column: str) -> Any:
        return case((newer, statement.excluded[column]), else_=p.c[column])

    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["assignment_id"],
            set_={
                "report_id": newest("report_id"),
                "status": newest("status"),
                "outputs": newest("outputs"),
                "last_reported_at": func.greatest(p.c.last_reported_at, statement.excluded.last_reported_at),
                "first_reported_at": func.least(p.c.first_reported_at, statement.excluded.first_reported_at),
            },
        )
    )
    return []


SUBSCRIPTIONS = [
    Subscription("unit.created", unit_created),
    Subscription("assignment.created", assignment_created),
    Subscription("progress.reported", progress_reported),
]
