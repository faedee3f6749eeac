"""Periodic sweep: occurrences whose due date has passed with no completed report become
overdue, once. State lives in the database (overdue_emitted_at), so the sweep is exact across
restarts, clock jumps and replicas (rows are claimed with SKIP LOCKED)."""

from __future__ import annotations

from sqlalchemy import func, select, update

from services.tasks import models as m
from shared.events import OccurrenceOverdue, UnitRef, make_event
from shared.runtime import Service

BATCH = 500


async def sweep_overdue(service: Service) -> int:
    today = service.clock.today_vn()
    total = 0
    while True:
        async with service.transaction() as session:
            a = m.assignments
            claimed = (
                select(a.c.id)
                .where(
                    a.c.due < today, a.c.done_at.is_(None), a.c.overdue_emitted_at.is_(None), a.c.cancelled_at.is_(None)
                )
                .order_by(a.c.due)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            rows = (
                await session.execute(
                    update(a).where(a.c.id.in_(claimed)).values(overdue_emitted_at=func.now()).returning(a)
                )
            ).all()
            now = service.clock.now()
            await service.emit(
                session,
                [
                    make_event(
                        "occurrence.overdue",
                        unit_path=r.unit_path,
                        producer=service.name,
                        at=now,
                        payload=OccurrenceOverdue(
                            assignment_id=r.id,
                            plan_id=r.plan_id,
                            task_ref=r.task_ref,
                            task_title=r.task_title,
                            unit=UnitRef(code=r.unit_code, path=r.unit_path, name=r.unit_name),
                            period=r.period,
                            due=r.due,
                        ),
                    )
                    for r in rows
                ],
            )
        total += len(rows)
        if len(rows) < BATCH:
            return total
