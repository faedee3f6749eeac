"""The roll-ups' maintained aggregates (issue 18): what a fact contributes to `rollup_counts` and
`rollup_outputs`, and keeping them equal to the sum of every fact's contribution in the
transaction that changes the facts. queries.py reads them.

A fact is an assignment that is not cancelled, with its latest progress (if any) and its
reporting unit's row in the read model (its level; `rollup_to`, the units it counts for in
today's structure). It counts for every unit on its own path and for the nation, `NATION`
(`restated` false: both views), and for the units `rollup_to` adds to its path (`restated` true:
today's structure only). Lead assignments add to the counters; every role's latest report adds
its products.

Maintenance is by difference: what the facts an event touches contributed before it is taken
away and what they contribute after it is added, in set-based SQL (`_adding`). Progress
batches do it in the statement that writes the progress rows (`reporting`: the facts before are
the statement's snapshot, after are those with the rows it returns; PostgreSQL sums the
difference by key), assignment batches with a statement before and one after the block
(`tracking`); a unit event (a level, today's structure after a merge) touches the facts of the
units whose row it changed (`units_before`, then `restate`, which reads the facts and adds
`Delta` in Python: rare events). A plan amendment touches nothing: the grain is the task, and a
task's area and channels are joined when the roll-ups are read.

One transaction at a time changes them (a transaction-level advisory lock, taken before the
facts are read): a progress batch and an assignment batch on the same assignment, each reading
the facts before the other commits, would otherwise both miss their combined change. The upserts
lock the hot rows (a province's, the nation's) until commit anyway.

`recount` fills them from the facts in one SQL statement per table (the benchmark's seed, the
exactness test's second opinion): the same rule as `Delta.add`, which the tests hold together.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Text,
    TextClause,
    any_,
    bindparam,
    cast,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.reports import models as m
from shared.clock import vn_date
from shared.followup import VN_TZ
from shared.units import taken_over

NATION = "VN"  # the country: every fact counts for it; its children are the provinces
LOCK = "reports.rollup_aggregates"

COUNTERS = ("expected", "reported", "on_time", "done_on_time", "done_late")
OUTPUT_SUMS = ("reports", "amount")
# unit, period_start, period_end, plan_id, task_ref, due, level, restated
CountKey = tuple[str, date, date, uuid.UUID, str, date, str, bool]
# unit, period_start, period_end, plan_id, task_ref, kind, restated
OutputKey = tuple[str, date, date, uuid.UUID, str, str, bool]
COUNT_KEY = ("unit", "period_start", "period_end", "plan_id", "task_ref", "due", "level", "restated")
OUTPUT_KEY = ("unit", "period_start", "period_end", "plan_id", "task_ref", "kind", "restated")


@dataclass(frozen=True)
class UnitState:
    """What of a reporting unit's row a fact's contribution depends on."""

    level: str | None  # None: no unit.created yet
    rollup_to: tuple[str, ...] = ()


UNKNOWN = UnitState(None)


@dataclass(frozen=True)
class Fact:
    """An assignment as the roll-ups count it: its row, its latest progress, its unit's row."""

    assignment_id: uuid.UUID
    plan_id: uuid.UUID
    task_ref: str
    unit_code: str
    ancestors: tuple[str, ...]
    period_start: date
    period_end: date
    due: date
    role: str
    cancelled: bool
    unit: UnitState
    reported: bool = False
    first_reported_at: datetime | None = None
    done_at: datetime | None = None
    outputs: dict[str, int] = field(default_factory=dict)

    def counted_for(self) -> list[tuple[str, bool]]:
        """(unit, restated) of every unit the fact counts for: its path and the nation in both
        views; what `rollup_to` adds (a merged unit's successor and its path) today only."""
        own = list(dict.fromkeys([*self.ancestors, NATION]))
        return [(code, False) for code in own] + [
            (code, True) for code in dict.fromkeys(self.unit.rollup_to) if code not in own
        ]

    def counters(self) -> tuple[int, ...]:
        """expected, reported, on_time, done_on_time, done_late, as shared.followup decides them."""
        on_time = self.first_reported_at is not None and vn_date(self.first_reported_at) <= self.due
        done_on = vn_date(self.done_at) if self.done_at is not None else None
        return (
            1,
            int(self.reported),
            int(on_time),
            int(done_on is not None and done_on <= self.due),
            int(done_on is not None and done_on > self.due),
        )


@dataclass
class Delta:
    """Changes to add to the aggregates, by key."""

    counts: dict[CountKey, list[int]] = field(default_factory=dict)
    outputs: dict[OutputKey, list[int]] = field(default_factory=dict)

    def add(self, fact: Fact, sign: int = 1) -> None:
        """Add (sign 1) or take away (sign -1) one fact's contribution."""
        if fact.cancelled:
            return
        level = fact.unit.level or "unknown"
        counters = fact.counters() if fact.role == "lead" else None
        for unit, restated in fact.counted_for():
            if counters is not None:
                key = (unit, fact.period_start, fact.period_end, fact.plan_id, fact.task_ref, fact.due, level, restated)
                _add(self.counts, key, counters, sign)
            if fact.reported:
                for kind, amount in fact.outputs.items():
                    where = (unit, fact.period_start, fact.period_end, fact.plan_id, fact.task_ref, kind, restated)
                    _add(self.outputs, where, (1, amount), sign)

    def between(self, before: Iterable[Fact], after: Iterable[Fact]) -> Delta:
        for fact in before:
            self.add(fact, -1)
        for fact in after:
            self.add(fact)
        return self


def _add(into: dict[Any, list[int]], key: Any, values: tuple[int, ...], sign: int) -> None:
    held = into.setdefault(key, [0] * len(values))
    for i, value in enumerate(values):
        held[i] += sign * value


# --- reading the facts -----------------------------------------------------------------------


def _facts(where: ColumnElement[bool]) -> Select[Any]:
    a, p, u = m.assignments, m.progress, m.units
    return (
        select(
            a.c.id,
            a.c.plan_id,
            a.c.task_ref,
            a.c.unit_code,
            a.c.ancestors,
            a.c.period_start,
            a.c.period_end,
            a.c.due,
            a.c.role,
            a.c.cancelled,
            u.c.level,
            u.c.rollup_to,
            p.c.assignment_id.is_not(None).label("reported"),
            p.c.first_reported_at,
            p.c.done_at,
            p.c.outputs,
        )
        .select_from(a.outerjoin(p, p.c.assignment_id == a.c.id).outerjoin(u, u.c.code == a.c.unit_code))
        .where(where)
    )


_FACTS_OF_UNITS = _facts(m.assignments.c.unit_code == any_(bindparam("codes", type_=ARRAY(Text))))


def _fact(row: Any) -> Fact:
    return Fact(
        assignment_id=row.id,
        plan_id=row.plan_id,
        task_ref=row.task_ref,
        unit_code=row.unit_code,
        ancestors=tuple(row.ancestors),
        period_start=row.period_start,
        period_end=row.period_end,
        due=row.due,
        role=row.role,
        cancelled=row.cancelled,
        unit=UnitState(row.level, tuple(row.rollup_to or ())) if row.level is not None else UNKNOWN,
        reported=row.reported,
        first_reported_at=row.first_reported_at,
        done_at=row.done_at,
        outputs=row.outputs or {},
    )


# --- applying a difference -------------------------------------------------------------------


def _upsert(table: Table, key: tuple[str, ...], values: tuple[str, ...]) -> Insert:
    """INSERT … SELECT FROM unnest(one array per column) ON CONFLICT add: a fixed text whatever
    the number of rows, so it is compiled and prepared once."""
    columns = (*key, *values)
    arrays = (bindparam(c, type_=ARRAY(table.c[c].type)) for c in columns)
    rows = func.unnest(*arrays).table_valued(*columns).render_derived(name="delta")
    statement = insert(table).from_select(list(columns), select(*(rows.c[c] for c in columns)))
    return statement.on_conflict_do_update(
        index_elements=list(key), set_={c: table.c[c] + statement.excluded[c] for c in values}
    )


_UPSERT_COUNTS = _upsert(m.rollup_counts, COUNT_KEY, COUNTERS)
_UPSERT_OUTPUTS = _upsert(m.rollup_outputs, OUTPUT_KEY, OUTPUT_SUMS)


async def apply(session: AsyncSession, delta: Delta) -> None:
    """Add the non-zero changes, rows in key order (concurrent writers lock them in one order).
    Rows that come down to zero stay: the readers skip them, and the next report often needs them."""
    for statement, changes, key, values in (
        (_UPSERT_COUNTS, delta.counts, COUNT_KEY, COUNTERS),
        (_UPSERT_OUTPUTS, delta.outputs, OUTPUT_KEY, OUTPUT_SUMS),
    ):
        rows = sorted((k, v) for k, v in changes.items() if any(v))
        if not rows:
            continue
        arrays: dict[str, list[Any]] = {c: [k[i] for k, _ in rows] for i, c in enumerate(key)}
        arrays |= {c: [v[i] for _, v in rows] for i, c in enumerate(values)}
        await session.execute(statement, arrays)


async def lock(session: AsyncSession) -> None:
    """Until the transaction ends, no other one changes the aggregates (see the module's docstring)."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(LOCK))))


# --- progress and assignment batches: set-based ------------------------------------------------
# The rule of `Delta.add` again, in SQL, for the hot path: a statement's CTE `facts` holds facts
# with a `sign` (1: add their contribution, -1: take it away); the contributions are summed by
# key, the keys that come to zero dropped, and each table's rows upserted in key order. `recount`
# keeps a text of its own: it is the second opinion the tests hold these statements to.

FACTS = f"""
    SELECT a.id AS assignment_id, a.plan_id, a.task_ref, a.ancestors, a.period_start, a.period_end,
           a.due, a.role, coalesce(u.level, 'unknown') AS level, coalesce(u.rollup_to, '{{}}') AS rollup_to,
           p.assignment_id IS NOT NULL AS reported, p.first_reported_at, p.done_at, p.outputs
    FROM {m.SCHEMA}.assignments a
    LEFT JOIN {m.SCHEMA}.progress p ON p.assignment_id = a.id
    LEFT JOIN {m.SCHEMA}.units u ON u.code = a.unit_code
    WHERE NOT a.cancelled"""  # a statement adds `AND` what picks the assignments


def _adding() -> str:
    """The rest of a statement that begins `WITH facts AS (…)`: one upsert per table."""

    def vn_day(column: str) -> str:
        return f"date(timezone('{VN_TZ}', {column}))"

    def signed(condition: str) -> str:
        return f"sum(CASE WHEN {condition} THEN sign ELSE 0 END)"

    def adds(values: tuple[str, ...]) -> str:
        return ", ".join(f"{c} = held.{c} + excluded.{c}" for c in values)

    key, output_key = ", ".join(COUNT_KEY), ", ".join(OUTPUT_KEY)
    zeros = ", ".join("0" for _ in COUNTERS)
    return f"""
    , counted AS (
        SELECT f.*, t.unit, false AS restated
        FROM facts f CROSS JOIN LATERAL unnest(f.ancestors || '{NATION}'::text) AS t(unit)
        UNION ALL
        SELECT f.*, t.unit, true FROM facts f CROSS JOIN LATERAL unnest(f.rollup_to) AS t(unit)
        WHERE NOT t.unit = ANY(f.ancestors)
    ), counts AS (
        INSERT INTO {m.rollup_counts.fullname} AS held ({key}, {", ".join(COUNTERS)})
        SELECT * FROM (
            SELECT {key}, sum(sign) AS expected, {signed("reported")} AS reported,
                   {signed(f"{vn_day('first_reported_at')} <= due")} AS on_time,
                   {signed(f"{vn_day('done_at')} <= due")} AS done_on_time,
                   {signed(f"{vn_day('done_at')} > due")} AS done_late
            FROM counted WHERE role = 'lead'
            GROUP BY {key}
        ) delta
        WHERE ({", ".join(COUNTERS)}) <> ({zeros})
        ORDER BY {key}
        ON CONFLICT ({key}) DO UPDATE SET {adds(COUNTERS)}
    )
    INSERT INTO {m.rollup_outputs.fullname} AS held ({output_key}, {", ".join(OUTPUT_SUMS)})
    SELECT * FROM (
        SELECT unit, period_start, period_end, plan_id, task_ref, kv.key AS kind, restated,
               sum(sign) AS reports, sum(sign * kv.value::numeric)::bigint AS amount
        FROM counted CROSS JOIN LATERAL jsonb_each_text(outputs) AS kv
        WHERE reported
        GROUP BY unit, period_start, period_end, plan_id, task_ref, kv.key, restated
    ) delta
    WHERE ({", ".join(OUTPUT_SUMS)}) <> (0, 0)
    ORDER BY {output_key}
    ON CONFLICT ({output_key}) DO UPDATE SET {adds(OUTPUT_SUMS)}
    """


_SIGNED = text(
    f"WITH facts AS (SELECT CAST(:sign AS integer) AS sign, f.* FROM ({FACTS} AND a.id = ANY(:ids)) f)" + _adding()
).bindparams(bindparam("ids", type_=ARRAY(m.assignments.c.id.type)))


@contextlib.asynccontextmanager
async def tracking(session: AsyncSession, ids: Collection[uuid.UUID]) -> AsyncIterator[None]:
    """Keep the aggregates equal to the facts across the block, which changes the facts of the
    assignments `ids` (their rows, their progress) and nothing else they count on: their
    contributions are taken away before it and added again after it, a statement each."""
    await lock(session)
    await session.execute(_SIGNED, {"sign": -1, "ids": list(ids)})
    yield
    await session.execute(_SIGNED, {"sign": 1, "ids": list(ids)})


def reporting(upsert: str) -> str:
    """The text of one statement that runs `upsert` — an INSERT INTO progress … ON CONFLICT …
    RETURNING assignment_id, first_reported_at, done_at, outputs, which returns every row it is
    given — and moves the aggregates from those assignments' facts before it (the statement's
    snapshot, which does not see its own writes) to the same facts with the rows it returns.
    The facts before are found by the batch's bound ids (`:assignment_id`, the upsert's own
    array), not by a join with the upsert's rows, whose count the planner cannot know: with a
    join it scanned every assignment for each batch.
    A fact the upsert did not change adds nothing. Run it under `lock`."""
    return f"""
    WITH written AS ({upsert}),
    before AS ({FACTS} AND a.id = ANY(:assignment_id)),
    facts AS (
        SELECT -1 AS sign, b.* FROM before b
        UNION ALL
        SELECT 1, b.assignment_id, b.plan_id, b.task_ref, b.ancestors, b.period_start, b.period_end, b.due,
               b.role, b.level, b.rollup_to, true, w.first_reported_at, w.done_at, w.outputs
        FROM before b JOIN written w ON w.assignment_id = b.assignment_id
    )""" + _adding()


# --- unit events: a level, today's structure -------------------------------------------------


@dataclass(frozen=True)
class UnitsBefore:
    """The rows of the units a unit event may change, as they were before it (absent: UNKNOWN)."""

    states: dict[str, UnitState]


async def _unit_states(session: AsyncSession, codes: Collection[str], *, below: bool) -> dict[str, UnitState]:
    """The units `codes` and (`below`) every unit whose roll-up reaches one of them — those under
    one of them by path included, since `rollup_to` holds a unit's own path."""
    u = m.units
    wanted: ColumnElement[bool] = u.c.code.in_(list(codes))
    if below:
        wanted = or_(wanted, u.c.rollup_to.overlap(cast(sorted(codes), ARRAY(Text))))
    rows = await session.execute(select(u.c.code, u.c.level, u.c.rollup_to).where(wanted))
    found = {row.code: UnitState(row.level, tuple(row.rollup_to or ())) for row in rows}
    return {code: found.get(code, UNKNOWN) for code in set(codes) | set(found)}


async def units_before(session: AsyncSession, seeds: set[str]) -> UnitsBefore:
    """Before a unit event refreshes `rollup_to` for `seeds` (handlers.refresh_rollup_paths): the
    rows it may change — the seeds, the units that became one of them, every unit below those."""
    await lock(session)
    reach = set(seeds) | await taken_over(session, m.successors, seeds)
    return UnitsBefore(await _unit_states(session, reach, below=True))


async def restate(session: AsyncSession, before: UnitsBefore) -> None:
    """After the unit event: move the facts of every unit whose row changed from what they
    counted for before to what they count for now."""
    after = await _unit_states(session, before.states, below=False)
    changed = [code for code, state in before.states.items() if after[code] != state]
    if not changed:
        return
    now = [_fact(row) for row in await session.execute(_FACTS_OF_UNITS, {"codes": sorted(changed)})]
    then = [replace(fact, unit=before.states[fact.unit_code]) for fact in now]
    await apply(session, Delta().between(then, now))


# --- from the facts, in SQL ------------------------------------------------------------------


def _recount_sql() -> tuple[TextClause, TextClause]:
    """SELECTs of every aggregate row from the facts (the rule of `Delta.add`, in SQL), in key
    order: a recount writes each unit's rows side by side, as its roll-up reads them."""
    s = m.SCHEMA
    facts = f"""
    WITH facts AS (
        SELECT a.plan_id, a.task_ref, a.ancestors, a.period_start, a.period_end, a.due, a.role,
               coalesce(u.level, 'unknown') AS level, coalesce(u.rollup_to, '{{}}') AS rollup_to,
               p.assignment_id IS NOT NULL AS reported, p.first_reported_at, p.done_at, p.outputs
        FROM {s}.assignments a
        LEFT JOIN {s}.progress p ON p.assignment_id = a.id
        LEFT JOIN {s}.units u ON u.code = a.unit_code
        WHERE NOT a.cancelled
    ), counted AS (
        SELECT f.*, t.unit, false AS restated
        FROM facts f CROSS JOIN LATERAL unnest(f.ancestors || '{NATION}'::text) AS t(unit)
        UNION ALL
        SELECT f.*, t.unit, true FROM facts f CROSS JOIN LATERAL unnest(f.rollup_to) AS t(unit)
        WHERE NOT t.unit = ANY(f.ancestors)
    )
    """

    def vn_day(column: str) -> str:
        return f"date(timezone('{VN_TZ}', {column}))"

    counts = text(
        facts
        + f"""
        SELECT {", ".join(COUNT_KEY)}, count(*) AS expected,
               count(*) FILTER (WHERE reported) AS reported,
               count(*) FILTER (WHERE {vn_day("first_reported_at")} <= due) AS on_time,
               count(*) FILTER (WHERE {vn_day("done_at")} <= due) AS done_on_time,
               count(*) FILTER (WHERE {vn_day("done_at")} > due) AS done_late
        FROM counted WHERE role = 'lead'
        GROUP BY {", ".join(COUNT_KEY)}
        ORDER BY {", ".join(COUNT_KEY)}
        """
    )
    outputs = text(
        facts
        + """
        SELECT unit, period_start, period_end, plan_id, task_ref, kv.key AS kind, restated,
               count(*) AS reports, sum(kv.value::numeric)::bigint AS amount
        FROM counted CROSS JOIN LATERAL jsonb_each_text(outputs) AS kv
        WHERE reported
        GROUP BY unit, period_start, period_end, plan_id, task_ref, kv.key, restated
        ORDER BY unit, period_start, period_end, plan_id, task_ref, kv.key, restated
        """
    )
    return counts, outputs


RECOUNT_COUNTS, RECOUNT_OUTPUTS = _recount_sql()


async def recount(session: AsyncSession) -> dict[str, int]:
    """Empty the aggregates and fill them from the facts; returns the rows written per table.
    For data written beside the handlers (the benchmark's COPY) and for checks; the handlers
    never need it."""
    await lock(session)
    written: dict[str, int] = {}
    for table, query, columns in (
        (m.rollup_counts, RECOUNT_COUNTS, (*COUNT_KEY, *COUNTERS)),
        (m.rollup_outputs, RECOUNT_OUTPUTS, (*OUTPUT_KEY, *OUTPUT_SUMS)),
    ):
        await session.execute(table.delete())
        names = ", ".join(columns)
        result = await session.execute(text(f"INSERT INTO {table.fullname} ({names}) {query.text}"))
        written[table.name] = int(result.rowcount)  # type: ignore[attr-defined]
    return written


async def held(session: AsyncSession) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Every non-zero aggregate row as stored, counts then outputs (for checks)."""
    c, o = m.rollup_counts, m.rollup_outputs
    counts = await session.execute(
        select(*(c.c[k] for k in (*COUNT_KEY, *COUNTERS))).where(or_(*(c.c[k] != 0 for k in COUNTERS)))
    )
    outputs = await session.execute(
        select(*(o.c[k] for k in (*OUTPUT_KEY, *OUTPUT_SUMS))).where(or_(*(o.c[k] != 0 for k in OUTPUT_SUMS)))
    )
    return {tuple(r) for r in counts}, {tuple(r) for r in outputs}


async def recounted(session: AsyncSession) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Every aggregate row as `recount` would write it, counts then outputs (for checks)."""
    counts = await session.execute(RECOUNT_COUNTS)
    outputs = await session.execute(RECOUNT_OUTPUTS)
    return {tuple(r) for r in counts}, {tuple(r) for r in outputs}
