"""The follow-up rules as SQL, evaluated by a real PostgreSQL on a table of cases, must decide
exactly what the Python function decides: one state per occurrence, the same one, and the same
unit subtrees, so the services that count them (tasks, reports) cannot drift apart again."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Column, Date, DateTime, Integer, MetaData, Table, Text, func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import followup
from shared.access import within
from shared.db import make_engine
from shared.followup import STATES, is_state, state, state_case
from shared.units import is_under, under, within_path

pytestmark = pytest.mark.integration

metadata = MetaData()
cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("due", Date, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("done_at", DateTime(timezone=True)),
    Column("reported_at", DateTime(timezone=True), nullable=False),
)
DUE = date(2026, 3, 31)
STARTS = [date(2026, 1, 1), DUE, DUE + timedelta(days=5)]  # the last: due before its period begins
DONE = [
    None,
    datetime(2026, 3, 31, 16, 59, 59, tzinfo=UTC),  # 23:59:59 on the due day in Vietnam
    datetime(2026, 3, 31, 17, 0, tzinfo=UTC),  # 00:00 the next day in Vietnam
    datetime(2026, 3, 30, 18, 0, tzinfo=UTC),  # 01:00 on the due day in Vietnam (still 30/03 in UTC)
    datetime(2025, 12, 20, 3, 0, tzinfo=UTC),  # before the period began
]
TODAYS = [
    date(2025, 12, 31),
    date(2026, 1, 1),
    date(2026, 3, 30),
    DUE,
    date(2026, 4, 1),
    date(2026, 4, 5),
    date(2026, 4, 6),
]
ROWS = [
    {"id": i, "due": DUE, "period_start": start, "done_at": done, "reported_at": done or DONE[2]}
    for i, (start, done) in enumerate(itertools.product(STARTS, DONE))
]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=1)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(cases), ROWS)
    yield engine
    await engine.dispose()


def _python(row: dict, today: date) -> str:
    return state(due=row["due"], period_start=row["period_start"], done_at=row["done_at"], today=today).value


async def test_the_sql_states_are_the_python_states_for_every_case(engine: AsyncEngine) -> None:
    c = cases.c
    async with engine.connect() as conn:
        for today in TODAYS:
            occurrence = {"due": c.due, "period_start": c.period_start, "done_at": c.done_at, "today": today}
            flags = [is_state(s, **occurrence).label(s.value) for s in STATES]
            query = select(c.id, state_case(**occurrence).label("state"), *flags).order_by(c.id)
            for got in (await conn.execute(query)).all():
                wanted = _python(ROWS[got.id], today)
                assert got.state == wanted, (ROWS[got.id], today)
                # exactly one condition holds: a filter by state and a count per state agree
                assert [s.value for s in STATES if getattr(got, s.value)] == [wanted], (ROWS[got.id], today)


async def test_counting_by_state_in_sql_adds_up_to_every_occurrence(engine: AsyncEngine) -> None:
    c = cases.c
    today = date(2026, 4, 3)
    occurrence = {"due": c.due, "period_start": c.period_start, "done_at": c.done_at, "today": today}
    async with engine.connect() as conn:
        row = (await conn.execute(select(*[func.count().filter(is_state(s, **occurrence)) for s in STATES]))).one()
    python = [sum(_python(r, today) == s.value for r in ROWS) for s in STATES]
    assert list(row) == python and sum(python) == len(ROWS)


async def test_on_time_in_sql_is_on_time_in_python(engine: AsyncEngine) -> None:
    c = cases.c
    async with engine.connect() as conn:
        got = dict(
            (await conn.execute(select(c.id, followup.reported_on_time(reported_at=c.reported_at, due=c.due)))).all()
        )
    assert got == {r["id"]: followup.on_time(r["reported_at"], r["due"]) for r in ROWS}


async def test_under_in_sql_is_under_in_python_and_uses_the_index(engine: AsyncEngine) -> None:
    paths = ["52", "52.21787", "52.21787.VHXH", "521", "521.52", "48.217870", "52.217870"]
    units = Table("units", MetaData(), Column("path", Text, primary_key=True))
    async with engine.begin() as conn:
        await conn.run_sync(units.metadata.create_all)
        await conn.execute(insert(units), [{"path": p} for p in paths])
        await conn.exec_driver_sql("CREATE INDEX units_under ON units USING gin (string_to_array(path, '.'))")
        for code in ("52", "21787", "VHXH", "217870"):
            got = set((await conn.execute(select(units.c.path).where(under(units.c.path, code)))).scalars())
            assert got == {p for p in paths if is_under(p, code)}, code
        more = ["48.20000.VHXH", "52.20000"]
        await conn.execute(insert(units), [{"path": p} for p in more])
        for scope in ("52", "52.21787", "52.21787.VHXH", "48.20000", "521", "*"):
            query = select(units.c.path).where(within_path(units.c.path, scope))
            got = set((await conn.execute(query)).scalars())
            assert got == {p for p in [*paths, *more] if within(p, scope)}, scope
        # the planner may prefer another plan for 7 rows: take the others away, so that only an
        # index that serves the expression can answer without a sequential scan
        for plan_kind in ("seqscan", "indexscan", "indexonlyscan"):
            await conn.exec_driver_sql(f"SET LOCAL enable_{plan_kind} = off")
        query = select(units.c.path).where(under(units.c.path, "52"))
        sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        plan = "\n".join((await conn.exec_driver_sql(f"EXPLAIN {sql}")).scalars())
        assert "units_under" in plan, plan
