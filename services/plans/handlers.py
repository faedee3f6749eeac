"""Event subscribers of the plans service. Plans is the source of units and plans, so on its own
it consumes nothing. At a site (CCHC_SITE, shared/federation.py) it keeps what the hub owns, as
the hub's events bring it: the directory of the units above the site and of its subtree (so the
site's officials get accounts and scopes while the link is down), and the plans issued above it,
read-only, with their tasks (so they see what they implement, and issue their implementing plans
under it). A hub keeps the plans its sites' units issue there, the same way."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.plans import models as m
from shared.bus import Subscription, on
from shared.clock import vn_date
from shared.events import Event, Meta, PlanAmended, PlanClosed, PlanIssued, UnitCreated, UnitRenamed
from shared.settings import Settings
from shared.text import normalize


async def unit_from_the_hub(session: AsyncSession, unit: UnitCreated | UnitRenamed, meta: Meta) -> list[Event]:
    """A unit the hub's directory holds: added here, or renamed (the hub's name wins)."""
    values: dict[str, object] = {
        "code": unit.code,
        "name": unit.name,
        "level": unit.level,
        "parent": unit.parent,
        "path": unit.path,
    }
    if isinstance(unit, UnitCreated):
        values |= {"valid_from": unit.valid_from, "valid_to": unit.valid_to}
    statement = insert(m.units).values(values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["code"], set_={"name": unit.name, "path": unit.path})
    )
    return []  # known here, announced by the hub already: nothing to publish


async def plan_from_elsewhere(session: AsyncSession, plan: PlanIssued | PlanAmended, meta: Meta) -> list[Event]:
    """A version of a plan issued on the other side (above a site; at a site, for its hub): kept,
    with its tasks, if newer than the one here (an older one arriving late changes nothing)."""
    p, t = m.plans, m.plan_tasks
    held = (await session.execute(select(p.c.version).where(p.c.id == plan.plan_id).with_for_update())).scalar()
    if held is not None and held >= plan.version:
        return []
    parent = getattr(plan, "parent_plan_id", None)
    if parent is not None and (await session.execute(select(p.c.id).where(p.c.id == parent))).first() is None:
        parent = None  # its basis is not here (issued further up, or not sourced)
    values = {
        "number": plan.number,
        "title": plan.title,
        "issuer": plan.issuer.code,
        "period": plan.period,
        "year": int(plan.period[:4]),
        "status": "issued" if isinstance(plan, PlanIssued) else "amended",
        "version": plan.version,
        "search": normalize(" ".join([plan.number, plan.title, *(task.title for task in plan.tasks)])),
        "content": {"due_rules": plan.due_rules.model_dump(mode="json") if plan.due_rules else None},
    }
    if held is None:
        issued = {"issued_at": meta.occurred_at, "issued_on": vn_date(meta.occurred_at), "parent_plan_id": parent}
        await session.execute(insert(p).values(id=plan.plan_id, **values, **issued))
    else:
        await session.execute(update(p).where(p.c.id == plan.plan_id).values(**values))
    await session.execute(delete(t).where(t.c.plan_id == plan.plan_id))
    rows = [
        {
            "plan_id": plan.plan_id,
            "ref": task.ref,
            "position": index,
            "title": task.title,
            "lead": [u.code for u in task.lead],
            "lead_text": [u.name for u in task.lead],
            "coordinating": [u.code for u in task.coordinating],
            "schedule": task.schedule.model_dump(mode="json"),
            "products": [product.model_dump() for product in task.products],
            "area": task.area,
            "channels": task.channels,
        }
        for index, task in enumerate(plan.tasks)
    ]
    if rows:
        await session.execute(insert(t), rows)
    return []


async def plan_closed_elsewhere(session: AsyncSession, plan: PlanClosed, meta: Meta) -> list[Event]:
    await session.execute(
        update(m.plans).where(m.plans.c.id == plan.plan_id).values(status="closed", closed_at=meta.occurred_at)
    )
    return []


def subscriptions(settings: Settings) -> list[Subscription]:
    """A site takes the hub's units and plans; a hub its sites' plans (the plans the communes
    issue there). Each side's own plans' events find them here already at their version."""
    plans = [*on(plan_from_elsewhere, "plan.issued", "plan.amended"), *on(plan_closed_elsewhere, "plan.closed")]
    if settings.site:
        return [*on(unit_from_the_hub, "unit.created", "unit.renamed"), *plans]
    return plans if settings.sites else []
