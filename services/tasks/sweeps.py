"""Periodic sweeps: an occurrence whose due date nears gets occurrence.due_soon once per lead
time (7 and 1 days by default); one whose due date has passed with no completed report becomes
overdue, once. State lives in the database (overdue_emitted_at, reminders), so the sweeps are
exact across restarts, clock jumps and replicas (SKIP LOCKED; insert … on conflict do nothing)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects.postgresql import insert

from services.tasks import models as m
from services.tasks.assignments import state_is
from shared.events import OccurrenceDueSoon, OccurrenceOverdue
from shared.followup import FollowUp
from shared.runtime import Service
from shared.units import unit_ref

BATCH = 500


async def sweep_overdue(service: Service) -> int:
    today = service.clock.today_vn()
    total = 0
    while True:
        async with service.transaction() as session:
            a = m.assignments
            claimed = (
                select(a.c.id)
                .where(state_is(FollowUp.OVERDUE, today), a.c.overdue_emitted_at.is_(None), a.c.cancelled_at.is_(None))
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
                    service.event(
                        "occurrence.overdue",
                        unit_path=r.unit_path,
                        at=now,
                        payload=OccurrenceOverdue(
                            assignment_id=r.id,
                            plan_id=r.plan_id,
                            task_ref=r.task_ref,
                            task_title=r.task_title,
                            unit=unit_ref(r),
                            period=r.period,
                            due=r.due,
                            plan_number=r.plan_number,
                            role=r.role,
                        ),
                    )
                    for r in rows
                ],
            )
        total += len(rows)
        if len(rows) < BATCH:
            return total


async def sweep_due_soon(service: Service) -> int:
    """One reminder per lead time, in the window down to the next shorter lead time, so an
    assignment created two days before its due date gets the 7-day reminder, then the 1-day one."""
    today = service.clock.today_vn()
    leads = sorted(set(service.settings.due_soon_days))
    a, r = m.assignments, m.reminders
    sent = 0
    for index, lead in enumerate(leads):
        shorter = leads[index - 1] if index else -1
        async with service.transaction() as session:
            due = select(a.c.id, literal(lead)).where(
                a.c.due > today + timedelta(days=shorter),
                a.c.due <= today + timedelta(days=lead),
                a.c.done_at.is_(None),
                a.c.cancelled_at.is_(None),
            )
            claimed = (
                (
                    await session.execute(
                        insert(r)
                        .from_select(["assignment_id", "lead_days"], due)
                        .on_conflict_do_nothing()
                        .returning(r.c.assignment_id)
                    )
                )
                .scalars()
                .all()
            )
            if not claimed:
                continue
            rows = (await session.execute(select(a).where(a.c.id.in_(claimed)))).all()
            now = service.clock.now()
            await service.emit(
                session,
                [
                    service.event(
                        "occurrence.due_soon",
                        unit_path=row.unit_path,
                        at=now,
                        payload=OccurrenceDueSoon(
                            assignment_id=row.id,
                            plan_id=row.plan_id,
                            task_ref=row.task_ref,
                            task_title=row.task_title,
                            unit=unit_ref(row),
                            period=row.period,
                            due=row.due,
                            lead_days=lead,
                            days_left=(row.due - today).days,
                            plan_number=row.plan_number,
                            role=row.role,
                        ),
                    )
                    for row in rows
                ],
            )
            sent += len(rows)
    return sent
