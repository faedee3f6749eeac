"""The cascade of plans (kế hoạch thực hiện): each child administrative unit that leads a task
of an issued plan owes its own implementing plan by a due date; issuing that plan fulfils the
obligation. The tree shows a plan, the plans implementing it, and who has not issued yet — as
far as the caller may read: the implementing plans of its subtree, the units of its subtree that
have not issued (a commune reading its province's tree does not see its siblings')."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.plans import models as m
from services.plans import storage
from services.plans.directory_api import get_unit_or_raise
from services.plans.domain import ADMIN_LEVELS
from shared.access import Caller
from shared.events import PlanTask

o = m.obligations
MAX_DEPTH = 6  # levels of implementing plans the tree shows below a plan


async def owe(session: AsyncSession, *, plan_id: uuid.UUID, issuer: str, tasks: list[PlanTask], due: dt.date) -> None:
    """Each child administrative unit of `issuer` that leads one of `tasks` owes an implementing
    plan of `plan_id` by `due` (an obligation already recorded is kept as it is)."""
    leads = {u.code for task in tasks for u in task.lead}
    u = m.units
    children = (
        (
            await session.execute(
                select(u.c.code).where(u.c.code.in_(leads), u.c.parent == issuer, u.c.level.in_(ADMIN_LEVELS))
            )
        )
        .scalars()
        .all()
    )
    if children:
        await session.execute(
            insert(o)
            .values([{"plan_id": plan_id, "unit_code": c, "due": due} for c in sorted(children)])
            .on_conflict_do_nothing()
        )


async def fulfil(session: AsyncSession, *, plan_id: uuid.UUID, parent_plan_id: uuid.UUID, issuer: str) -> None:
    """Plan `plan_id` of `issuer`, now issued, fulfils what `issuer` owed to its parent plan."""
    await session.execute(
        update(o)
        .where(o.c.plan_id == parent_plan_id, o.c.unit_code == issuer, o.c.fulfilled_by.is_(None))
        .values(fulfilled_by=plan_id)
    )


async def tree(session: AsyncSession, *, plan_id: uuid.UUID, caller: Caller, depth: int = 0) -> dict[str, Any]:
    """The plan (404 if the caller may not read it), how many of the implementing plans owed
    were issued, who in the caller's subtree has not issued, and the implementing plans the
    caller may read, down to MAX_DEPTH levels."""
    plan = await storage.get_or_raise(session, plan_id=plan_id, caller=caller)
    issuer = await get_unit_or_raise(session, plan.issuer)
    u, p = m.units, m.plans
    duties = (
        await session.execute(
            select(o, u.c.name, u.c.path)
            .join(u, u.c.code == o.c.unit_code)
            .where(o.c.plan_id == plan_id)
            .order_by(o.c.unit_code)
        )
    ).all()
    implementing = (
        await session.execute(
            select(p.c.id, p.c.status, u.c.path)
            .join(u, u.c.code == p.c.issuer)
            .where(p.c.parent_plan_id == plan_id)
            .order_by(p.c.created_at)
        )
    ).all()
    children = [r.id for r in implementing if storage.readable(caller, issuer_path=r.path, status=r.status)]
    return {
        "id": str(plan.id),
        "number": plan.number,
        "title": plan.title,
        "issuer": plan.issuer,
        "issuer_name": issuer.name,
        "period": plan.period,
        "status": plan.status,
        "obligations": {"expected": len(duties), "issued": sum(1 for d in duties if d.fulfilled_by)},
        "not_issued": [
            {"unit": d.unit_code, "name": d.name, "due": d.due.isoformat()}
            for d in duties
            if d.fulfilled_by is None and caller.covers(d.path)
        ],
        "children": [await tree(session, plan_id=child, caller=caller, depth=depth + 1) for child in children]
        if depth < MAX_DEPTH
        else [],
    }
