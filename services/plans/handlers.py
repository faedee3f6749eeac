"""Event subscribers of the plans service. Plans is the source of units and plans, so on its own
it consumes nothing; at a site (CCHC_SITE, shared/federation.py) it keeps the directory of the
units above the site and of its subtree as the hub's unit.created / unit.renamed events bring
them, so the site's officials get accounts, plans and scopes while the link is down."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.plans import models as m
from shared.bus import Subscription, on
from shared.events import Event, Meta, UnitCreated, UnitRenamed
from shared.settings import Settings


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


def subscriptions(settings: Settings) -> list[Subscription]:
    if not settings.site:
        return []
    return [*on(unit_from_the_hub, "unit.created", "unit.renamed")]
