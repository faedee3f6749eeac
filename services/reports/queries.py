"""Aggregations over the reports read model, shared by the HTTP API and the documents.

The roll-ups' figures (`totals`, `by_level`, `by_quarter`, `outputs`, `children`) are read from
the maintained aggregates (models.rollup_counts / rollup_outputs, kept by aggregates.py in the
transaction that changes the facts): a province's year is a few hundred rows, not its facts.
What lists units or tasks (`lagging`, `tasks`, `highlights`) is counted from the facts, within
the scope; services/reports/direct.py counts the roll-ups from the facts too, the oracle the
tests hold the aggregates to. Rates are recomputed from counts. Completeness counts the lead
units' reports (coordinating units add outputs only); "expected" counts only assignments that
exist, i.e. units that existed and had the obligation in the period, so it never exceeds 100 %
around a reorganisation. The unit `NATION` ("VN") is the country: every fact counts for it, and
its children are the provinces.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date
from types import SimpleNamespace
from typing import Any, Literal

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    FromClause,
    Integer,
    Numeric,
    Text,
    and_,
    any_,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.reports import models as m
from services.reports.aggregates import NATION
from shared import pages, units
from shared.access import EVERYWHERE, Caller, Right
from shared.errors import Forbidden, NotFound
from shared.followup import STATES, FollowUp, is_state, reported_on_time
from shared.periods import Period
from shared.text import natural_key

View = Literal["current", "as_reported"]

a, p, u, t = m.assignments, m.progress, m.units, m.plan_tasks


@dataclass(frozen=True)
class Scope:
    """What is counted: a unit's subtree in a period, in a view, optionally narrowed."""

    unit: str
    period: Period
    view: View = "current"
    plan: uuid.UUID | None = None
    area: str | None = None
    channel: str | None = None
    kind: str | None = None  # narrows the outputs (product counts) only

    def conditions(self) -> list[ColumnElement[bool]]:
        under: ColumnElement[bool] = units.under(a.c.ancestors, self.unit)
        if self.unit == NATION:
            under = true()
        elif self.view == "current":
            # `= ANY(ARRAY(subquery))`, not `IN (subquery)`: the list is computed once, so the
            # OR becomes a bitmap OR of the unit_code and ancestors indexes, not a full scan.
            restated = select(u.c.code).where(u.c.rollup_to.contains([self.unit])).scalar_subquery()
            under = or_(a.c.unit_code == any_(func.array(restated)), under)
        wanted = [under, ~a.c.cancelled, a.c.period_start >= self.period.start, a.c.period_end <= self.period.end]
        if self.plan is not None:
            wanted.append(a.c.plan_id == self.plan)
        if self.area is not None:
            wanted.append(t.c.area == self.area)
        if self.channel is not None:
            wanted.append(t.c.channels.any_() == self.channel)
        return wanted

    def source(self) -> FromClause:
        """Assignments with their latest progress and their plan task."""
        return a.outerjoin(p, p.c.assignment_id == a.c.id).outerjoin(
            t, and_(t.c.plan_id == a.c.plan_id, t.c.ref == a.c.task_ref)
        )


async def get_unit_or_raise(session: AsyncSession, code: str, *, caller: Caller | None = None) -> Any:
    """The read model's row of a unit; 404 naming the code if there is none. With a caller, the
    unit is one it reads about: 403 unless it lies in the caller's subtree (a unit code is no
    secret, the directory lists them; its figures are). The nation ("VN") is read only by a
    caller whose scope is the whole country."""
    if code == NATION:
        if caller is not None:
            caller.require_right(Right.read)
            if not caller.national:
                raise Forbidden(
                    f"Số liệu cả nước (mã {NATION}) chỉ dành cho tài khoản có phạm vi toàn quốc; "
                    f"tài khoản này thuộc đơn vị {caller.unit_code}"
                )
        return SimpleNamespace(code=NATION, name="Cả nước", level="country", parent=None, path=EVERYWHERE)
    row = (await session.execute(select(u).where(u.c.code == code))).first()
    if row is None:
        raise NotFound(f"không có đơn vị mã {code!r}")
    if caller is not None:
        caller.require(Right.read, row.path)
    return row


def counts(today: date) -> list[Any]:
    """Completeness, timeliness and the five follow-up states, leads only."""
    lead = a.c.role == "lead"
    occurrence: dict[str, Any] = {
        "due": a.c.due,
        "period_start": a.c.period_start,
        "done_at": p.c.done_at,
        "today": today,
    }
    return [
        func.count().filter(lead).label("expected"),
        func.count(p.c.assignment_id).filter(lead).label("reported"),
        func.count().filter(lead, reported_on_time(reported_at=p.c.first_reported_at, due=a.c.due)).label("on_time"),
        *[func.count().filter(lead, is_state(s, **occurrence)).label(s.value) for s in STATES],
    ]


NOTHING = SimpleNamespace(**{name: 0 for name in ("expected", "reported", "on_time", *STATES)})  # no assignment


def figures(row: Any) -> dict[str, Any]:
    expected, reported, on_time = row.expected, row.reported, row.on_time
    return {
        "expected": expected,
        "reported": reported,
        "on_time": on_time,
        "completeness": round(reported / expected, 4) if expected else None,
        "timeliness": round(on_time / expected, 4) if expected else None,
        "states": {state: getattr(row, state) for state in STATES},
    }


def product_sums(scope: Scope, *group: Any, also: Any = None) -> tuple[Any, Any]:
    """SELECT *group, product kind, sum of the latest reports' counts in scope, grouped so;
    `also` is one more lateral source (the channels of the task). Returns it and the kind column."""
    kv = func.jsonb_each_text(p.c.outputs).table_valued("key", "value").lateral()
    source = scope.source().join(kv, literal_column("true"))
    if also is not None:
        source = source.join(also, literal_column("true"))
    query = (
        select(*group, kv.c.key, func.sum(kv.c.value.cast(Numeric)).cast(Integer))
        .select_from(source)
        .where(*scope.conditions(), p.c.assignment_id.is_not(None))
        .group_by(*group, kv.c.key)
    )
    if scope.kind is not None:
        query = query.where(kv.c.key == scope.kind)
    return query, kv.c.key


def merged_away(unit: FromClause) -> ColumnElement[bool]:
    """The unit is the old side of a default succession: merged into another (an anti-join,
    which the planner hashes once, where `NOT IN (subquery)` was re-checked per row)."""
    succ = m.successors
    return exists().where(succ.c.old_code == unit.c.code, succ.c.is_default)


# --- the roll-ups, read from the maintained aggregates ---------------------------------------

c, o = m.rollup_counts, m.rollup_outputs


def _own(table: Any, scope: Scope) -> list[ColumnElement[bool]]:
    """The aggregate rows of the scope's period and view, narrowed by plan, for every unit: the
    caller adds which. As `Scope.conditions` counts the facts."""
    wanted = [table.c.period_start >= scope.period.start, table.c.period_end <= scope.period.end]
    if scope.view == "as_reported":  # the facts' own paths; the rows today's structure adds are restated
        wanted.append(~table.c.restated)
    if scope.plan is not None:
        wanted.append(table.c.plan_id == scope.plan)
    return wanted


def _by_task(source: Any, scope: Scope, *, tasks: bool = False) -> tuple[FromClause, list[ColumnElement[bool]]]:
    """`source` (rows with plan_id and task_ref) narrowed by the area and channel of their plan
    task, joined when narrowing or (`tasks`) grouping by them."""
    wanted: list[ColumnElement[bool]] = []
    if not (tasks or scope.area is not None or scope.channel is not None):
        return source, wanted
    joined = source.outerjoin(t, and_(t.c.plan_id == source.c.plan_id, t.c.ref == source.c.task_ref))
    if scope.area is not None:
        wanted.append(t.c.area == scope.area)
    if scope.channel is not None:
        wanted.append(t.c.channels.any_() == scope.channel)
    return joined, wanted


def _rows(table: Any, scope: Scope) -> tuple[FromClause, list[ColumnElement[bool]]]:
    """The aggregate rows in scope, but for the unit (the caller says which)."""
    source, wanted = _by_task(table, scope)
    return source, [*_own(table, scope), *wanted]


def summed(today: date) -> list[Any]:
    """`counts` over aggregate rows: the stored counters summed, and the three states that depend
    on the day (overdue, not due, in progress) decided now from each row's due date and period."""
    not_done = c.c.expected - c.c.done_on_time - c.c.done_late
    not_overdue = c.c.due >= today

    def total(column: Any, name: str, *when: ColumnElement[bool]) -> Any:
        added = func.sum(column)
        return func.coalesce(added.filter(*when) if when else added, 0).label(name)

    return [
        total(c.c.expected, "expected"),
        total(c.c.reported, "reported"),
        total(c.c.on_time, "on_time"),
        total(c.c.done_on_time, FollowUp.DONE_ON_TIME.value),
        total(c.c.done_late, FollowUp.DONE_LATE.value),
        total(not_done, FollowUp.OVERDUE.value, c.c.due < today),
        total(not_done, FollowUp.NOT_DUE.value, not_overdue, c.c.period_start > today),
        total(not_done, FollowUp.IN_PROGRESS.value, not_overdue, c.c.period_start <= today),
    ]


async def totals(session: AsyncSession, scope: Scope, today: date) -> dict[str, Any]:
    source, wanted = _rows(c, scope)
    row = (
        await session.execute(select(*summed(today)).select_from(source).where(c.c.unit == scope.unit, *wanted))
    ).one()
    return figures(row)


async def by_quarter(session: AsyncSession, scope: Scope, today: date) -> list[dict[str, Any]]:
    """The figures of each quarter of the scope's year, in one query: every assignment whose
    period lies within one quarter counts for that quarter, as `totals` of the quarter would count it."""
    year = Period("year", scope.period.year)
    quarter = func.extract("quarter", c.c.period_start)
    source, wanted = _rows(c, replace(scope, period=year))
    rows = {
        int(row.quarter): row
        for row in (
            await session.execute(
                select(quarter.label("quarter"), *summed(today))
                .select_from(source)
                .where(c.c.unit == scope.unit, *wanted, quarter == func.extract("quarter", c.c.period_end))
                .group_by(literal_column("quarter"))
            )
        ).all()
    }
    return [{"period": q.code, "label": q.label_vi()} | figures(rows.get(q.index) or NOTHING) for q in year.quarters()]


async def by_level(session: AsyncSession, scope: Scope, today: date) -> dict[str, dict[str, Any]]:
    """The same figures per level of the reporting unit (province, commune, body …; "unknown"
    while the read model has no unit.created for it)."""
    rows = await _per_level(session, scope, today)
    return {row.unit_level: figures(row) for row in rows if row.expected or row.reported}


async def _per_level(session: AsyncSession, scope: Scope, today: date) -> list[Any]:
    """The counters of the scope's aggregate rows, one row per reporting level."""
    source, wanted = _rows(c, scope)
    statement = (
        select(c.c.level.label("unit_level"), *summed(today))
        .select_from(source)
        .where(c.c.unit == scope.unit, *wanted)
        .group_by(c.c.level)
    )
    return list((await session.execute(statement)).all())


async def outputs(session: AsyncSession, scope: Scope, *, by: Literal["", "area", "channel"] = "") -> Any:
    """Products reported: {kind: n}, or {area: {kind: n}}, or {channel: {kind: n}}. Summed per
    task first (the periods of a year fold into one row), then joined to the tasks' areas and
    channels: the nation's year is ~10,000 rows, a third as many per task."""
    wanted = [o.c.unit == scope.unit, *_own(o, scope)]
    if scope.kind is not None:
        wanted.append(o.c.kind == scope.kind)
    per_task = (
        select(
            o.c.plan_id,
            o.c.task_ref,
            o.c.kind,
            func.sum(o.c.amount).label("amount"),
            func.sum(o.c.reports).label("reports"),
        )
        .where(*wanted)
        .group_by(o.c.plan_id, o.c.task_ref, o.c.kind)
        .subquery("per_task")
    )
    source, narrowed = _by_task(per_task, scope, tasks=bool(by))
    group: list[Any] = []
    if by == "area":
        group = [func.coalesce(t.c.area, "").label("group")]
    elif by == "channel":
        channel = func.unnest(t.c.channels).table_valued("name").lateral()
        source = source.join(channel, true())
        group = [channel.c.name.label("group")]
    query = (
        select(*group, per_task.c.kind, func.sum(per_task.c.amount))
        .select_from(source)
        .where(*narrowed)
        .group_by(*group, per_task.c.kind)
        .having(func.sum(per_task.c.reports) > 0)  # a kind reported as 0 shows; one no report names any more does not
        .order_by(*group, per_task.c.kind)
    )
    rows = (await session.execute(query)).all()
    if not by:
        return {row[0]: int(row[1]) for row in rows}
    grouped: dict[str, dict[str, int]] = {}
    for row in rows:
        grouped.setdefault(row[0], {})[row[1]] = int(row[2])
    return grouped


COUNTED = ("expected", "reported", "on_time", *STATES)


async def rollup(session: AsyncSession, scope: Scope, today: date) -> dict[str, Any]:
    """What GET /api/reports/rollup shows — `totals`, `by_level` and the three `outputs` — in three
    queries instead of five: the totals are the sum of the levels, the products by kind the sum of
    the products by area (every count is additive)."""
    levels = await _per_level(session, scope, today)
    whole = SimpleNamespace(**{name: sum(getattr(row, name) for row in levels) for name in COUNTED})
    by_area = await outputs(session, scope, by="area")
    kinds: dict[str, int] = {}
    for products in by_area.values():
        for kind, amount in products.items():
            kinds[kind] = kinds.get(kind, 0) + amount
    return figures(whole) | {
        "by_level": {row.unit_level: figures(row) for row in levels if row.expected or row.reported},
        "outputs": dict(sorted(kinds.items())),
        "outputs_by_area": by_area,
        "outputs_by_channel": await outputs(session, scope, by="channel"),
    }


async def children(session: AsyncSession, scope: Scope, today: date) -> list[dict[str, Any]]:
    """One row per child unit with its own subtree's figures; children without assignments too.
    In the current view a merged unit's facts count for the child that took it over (its
    restated rows), and a unit merged away is no child: its facts count there, once."""

    def is_child(unit: FromClause) -> ColumnElement[bool]:
        below = unit.c.parent.is_(None) if scope.unit == NATION else unit.c.parent == scope.unit
        return and_(below, ~merged_away(unit)) if scope.view == "current" else below

    units = (await session.execute(select(u.c.code, u.c.name, u.c.level).where(is_child(u)))).all()
    # the children's codes as a list, not a join: the planner then reads each child's rows through
    # the primary key instead of hashing every aggregate row of the country
    codes = literal([unit.code for unit in units], ARRAY(Text))
    source, wanted = _rows(c, scope)
    rows = {
        row.child_code: row
        for row in (
            await session.execute(
                select(c.c.unit.label("child_code"), *summed(today))
                .select_from(source)
                .where(c.c.unit == any_(codes), *wanted)
                .group_by(c.c.unit)
            )
        ).all()
    }
    result = []
    for unit in units:
        row = rows.get(unit.code)
        numbers = figures(row if row is not None else NOTHING)
        result.append({"unit": unit.code, "name": unit.name, "level": unit.level, **numbers})
    result.sort(key=lambda r: (r["completeness"] is None, r["completeness"] or 0, r["name"]))
    return result


# --- lists of units and tasks, counted from the facts in scope --------------------------------


async def lagging(session: AsyncSession, scope: Scope, today: date) -> list[dict[str, Any]]:
    """Reporting units whose reports are missing past their due date, the latest first:
    the earliest missed due date, how many days ago, and how many reports are missing."""
    lead = a.c.role == "lead"
    missing = and_(lead, p.c.assignment_id.is_(None), a.c.due < today)
    source = scope.source()
    unit_code: ColumnElement[str] = a.c.unit_code
    if scope.view == "current":  # a commune merged away answers under the one that took it over
        succ = m.successors
        source = source.outerjoin(succ, and_(succ.c.old_code == a.c.unit_code, succ.c.is_default))
        unit_code = func.coalesce(succ.c.new_code, a.c.unit_code)
    rows = (
        await session.execute(
            select(
                unit_code.label("lag_unit"),
                func.count().filter(missing).label("missing"),
                func.min(a.c.due).filter(missing).label("earliest_due"),
                func.count().filter(lead).label("expected"),
            )
            .select_from(source)
            .where(*scope.conditions())
            .group_by(literal_column("lag_unit"))
            .having(func.count().filter(missing) > 0)
        )
    ).all()
    names = dict(
        (await session.execute(select(u.c.code, u.c.name).where(u.c.code.in_([r.lag_unit for r in rows])))).all()
    )
    result = [
        {
            "unit": row.lag_unit,
            "name": names.get(row.lag_unit, row.lag_unit),
            "missing": row.missing,
            "expected": row.expected,
            "earliest_due": row.earliest_due.isoformat(),
            "days_late": (today - row.earliest_due).days,
        }
        for row in rows
    ]
    result.sort(key=lambda r: (-r["days_late"], -r["missing"], r["name"]))
    return result


async def tasks(session: AsyncSession, scope: Scope, today: date) -> list[dict[str, Any]]:
    """One row per plan task in scope: who had to report, who did, on time, and the products."""
    plan = m.plans
    rows = (
        await session.execute(
            select(
                a.c.plan_id,
                func.max(a.c.plan_number).label("plan_number"),
                a.c.task_ref,
                func.max(a.c.task_title).label("task_title"),
                func.max(t.c.area).label("area"),
                *counts(today),
            )
            .select_from(scope.source())
            .where(*scope.conditions())
            .group_by(a.c.plan_id, a.c.task_ref)
        )
    ).all()
    produced: dict[tuple[uuid.UUID, str], dict[str, int]] = {}
    query, _ = product_sums(scope, a.c.plan_id, a.c.task_ref)
    for plan_id, ref, key, total in (await session.execute(query)).all():
        produced.setdefault((plan_id, ref), {})[key] = int(total)
    titles = dict(
        (await session.execute(select(plan.c.id, plan.c.title).where(plan.c.id.in_({r.plan_id for r in rows})))).all()
    )
    result = [
        {
            "plan_id": str(row.plan_id),
            "plan_number": row.plan_number,
            "plan_title": titles.get(row.plan_id, ""),
            "task_ref": row.task_ref,
            "task_title": row.task_title,
            "area": row.area,
            **figures(row),
            "outputs": produced.get((row.plan_id, row.task_ref), {}),
        }
        for row in rows
    ]
    result.sort(key=task_key)
    return result


# The report's long sections, paged in the JSON (the DOCX and XLSX hold them whole).
TASKS = pages.Key("report-tasks", (str, str, str, str))
HIGHLIGHTS = {kind: pages.Key(f"report-{kind}", (str, str, str)) for kind in ("good_models", "notes", "cannot_do")}


def task_key(row: dict[str, Any]) -> tuple[str, str, str, str]:
    """By plan number, then task number in natural order ("4.2" before "4.10"), then plan and task."""
    natural = "".join(f"{part:010d}" if isinstance(part, int) else part for part in natural_key(row["task_ref"]))
    return (row["plan_number"], natural, row["plan_id"], row["task_ref"])


def highlight_key(entry: dict[str, Any]) -> tuple[str, str, str]:
    return (entry["unit"], entry["task_ref"], entry["assignment_id"])


async def highlights(session: AsyncSession, scope: Scope) -> dict[str, list[dict[str, Any]]]:
    """Good models and notes from the latest progress reports in scope, and why tasks could not
    be done: what a periodic report quotes. All of them: the DOCX quotes the first ones and
    points to the XLSX, which lists every one."""
    rows = (
        await session.execute(
            select(
                a.c.id,
                a.c.unit_code,
                u.c.name,
                a.c.task_ref,
                a.c.task_title,
                p.c.status,
                p.c.note,
                p.c.reason,
                p.c.good_model,
            )
            .select_from(scope.source().outerjoin(u, u.c.code == a.c.unit_code))
            .where(*scope.conditions(), or_(p.c.note != "", p.c.reason != "", p.c.good_model != ""))
        )
    ).all()
    rows = sorted(rows, key=lambda r: (r.unit_code, r.task_ref, str(r.id)))  # highlight_key's order

    def entry(row: Any, text: str) -> dict[str, Any]:
        return {
            "assignment_id": str(row.id),
            "unit": row.unit_code,
            "name": row.name or row.unit_code,
            "task_ref": row.task_ref,
            "task_title": row.task_title,
            "text": text,
        }

    return {
        "good_models": [entry(r, r.good_model) for r in rows if r.good_model],
        "notes": [entry(r, r.note) for r in rows if r.note],
        "cannot_do": [entry(r, r.reason) for r in rows if r.status == "cannot_do" and r.reason],
    }
