"""The roll-ups counted from the facts at query time: what queries.py read before the maintained
aggregates (issue 18), kept as the oracle the tests hold the aggregates to (a direct count is
right by construction, and slow: a province's year reads its every assignment). Same answers as
queries.totals, by_quarter, by_level, outputs and children, for the same scopes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any, Literal

from sqlalchemy import ColumnElement, FromClause, and_, func, literal_column, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.reports import models as m
from services.reports import queries as q
from services.reports.aggregates import NATION
from shared.periods import Period

a, p, u, t = m.assignments, m.progress, m.units, m.plan_tasks


async def direct_totals(session: AsyncSession, scope: q.Scope, today: date) -> dict[str, Any]:
    row = (await session.execute(select(*q.counts(today)).select_from(scope.source()).where(*scope.conditions()))).one()
    return q.figures(row)


async def direct_by_quarter(session: AsyncSession, scope: q.Scope, today: date) -> list[dict[str, Any]]:
    """The figures of each quarter of the scope's year, in one query: every assignment whose
    period lies within one quarter counts for that quarter, as `totals` of the quarter would count it."""
    year = Period("year", scope.period.year)
    quarter = func.extract("quarter", a.c.period_start)
    in_year = replace(scope, period=year)
    rows = {
        int(row.quarter): row
        for row in (
            await session.execute(
                select(quarter.label("quarter"), *q.counts(today))
                .select_from(in_year.source())
                .where(*in_year.conditions(), quarter == func.extract("quarter", a.c.period_end))
                .group_by(literal_column("quarter"))
            )
        ).all()
    }
    return [
        {"period": quarter_.code, "label": quarter_.label_vi()} | q.figures(rows.get(quarter_.index) or q.NOTHING)
        for quarter_ in year.quarters()
    ]


async def direct_by_level(session: AsyncSession, scope: q.Scope, today: date) -> dict[str, dict[str, Any]]:
    """The same figures per level of the reporting unit (province, commune, body …)."""
    rows = (
        await session.execute(
            select(func.coalesce(u.c.level, "unknown").label("unit_level"), *q.counts(today))
            .select_from(scope.source().outerjoin(u, u.c.code == a.c.unit_code))
            .where(*scope.conditions())
            .group_by(literal_column("unit_level"))
        )
    ).all()
    return {row.unit_level: q.figures(row) for row in rows if row.expected or row.reported}


async def direct_outputs(session: AsyncSession, scope: q.Scope, *, by: Literal["", "area", "channel"] = "") -> Any:
    """Products reported: {kind: n}, or {area: {kind: n}}, or {channel: {kind: n}}."""
    group: list[Any] = []
    channel = None
    if by == "area":
        group = [func.coalesce(t.c.area, "").label("group")]
    elif by == "channel":
        channel = func.unnest(t.c.channels).table_valued("name").lateral()
        group = [channel.c.name.label("group")]
    query, kind = q.product_sums(scope, *group, also=channel)
    rows = (await session.execute(query.order_by(*group, kind))).all()
    if not by:
        return {row[0]: int(row[1]) for row in rows}
    grouped: dict[str, dict[str, int]] = {}
    for row in rows:
        grouped.setdefault(row[0], {})[row[1]] = int(row[2])
    return grouped


async def direct_children(session: AsyncSession, scope: q.Scope, today: date) -> list[dict[str, Any]]:
    """One row per child unit with its own subtree's figures; children without assignments too.
    In the current view a merged unit's facts count for the child that took it over."""
    child = u.alias("child")

    def is_child(unit: FromClause) -> ColumnElement[bool]:
        return unit.c.parent.is_(None) if scope.unit == NATION else unit.c.parent == scope.unit

    # A unit merged away (the old side of a default succession) is no child in today's
    # structure: its facts count for the unit that took it over, once.
    source: FromClause
    key: ColumnElement[Any]
    if scope.view == "current":
        own = u.alias("own")
        # as `Scope.conditions` counts: what `rollup_to` adds to the path (NULL until unit.created)
        counted_for = func.array_cat(own.c.rollup_to, a.c.ancestors)
        source = scope.source().outerjoin(own, own.c.code == a.c.unit_code)
        source = source.join(
            child,
            and_(is_child(child), child.c.code == func.any(counted_for), ~q.merged_away(child)),
        )
        key = child.c.code
    else:
        source = scope.source()
        position = 0 if scope.unit == NATION else func.array_position(a.c.ancestors, scope.unit)
        key = a.c.ancestors[position + 1]
    rows = {
        row.child_code: row
        for row in (
            await session.execute(
                select(key.label("child_code"), *q.counts(today))
                .select_from(source)
                .where(*scope.conditions())
                .group_by(literal_column("child_code"))
            )
        ).all()
        if row.child_code is not None
    }
    units = (
        await session.execute(
            select(u.c.code, u.c.name, u.c.level).where(
                or_(
                    and_(is_child(u), ~q.merged_away(u) if scope.view == "current" else true()),
                    u.c.code.in_(list(rows)),
                )
            )
        )
    ).all()
    result = []
    for unit in units:
        row = rows.get(unit.code)
        numbers = q.figures(row if row is not None else q.NOTHING)
        result.append({"unit": unit.code, "name": unit.name, "level": unit.level, **numbers})
    result.sort(key=lambda r: (r["completeness"] is None, r["completeness"] or 0, r["name"]))
    return result
