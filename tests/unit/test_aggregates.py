"""What one fact contributes to the roll-ups' aggregates (services/reports/aggregates.py), pure:
the units it counts for in each view, the counters of a lead, the products of every role."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.reports.aggregates import NATION, Delta, Fact, UnitState

pytestmark = pytest.mark.unit

PLAN = uuid.uuid4()
DUE = date(2026, 3, 20)


def fact(**changes: object) -> Fact:
    base = Fact(
        assignment_id=uuid.uuid4(),
        plan_id=PLAN,
        task_ref="1",
        unit_code="21790",
        ancestors=("52", "21790"),
        period_start=date(2026, 1, 1),
        period_end=date(2026, 3, 31),
        due=DUE,
        role="lead",
        cancelled=False,
        unit=UnitState("commune", ("52", "21790", "21787")),  # merged into 21787
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_fact_counts_for_its_path_and_the_nation_in_both_views_and_for_its_successor_today_only() -> None:
    assert fact().counted_for() == [("52", False), ("21790", False), (NATION, False), ("21787", True)]
    assert fact(unit=UnitState(None)).counted_for() == [("52", False), ("21790", False), (NATION, False)]


def test_a_lead_first_reported_on_time_then_done_after_the_due_date_counts_on_time_and_done_late() -> None:
    # 20/03 23:30 in Vietnam is 16:30 UTC: still the due date; 21/03 00:30 in Vietnam is the day after
    reported = fact(
        reported=True,
        first_reported_at=datetime(2026, 3, 20, 16, 30, tzinfo=UTC),
        done_at=datetime(2026, 3, 20, 17, 30, tzinfo=UTC),
        outputs={"broadcast": 3, "article": 0},
    )
    assert reported.counters() == (1, 1, 1, 0, 1)
    delta = Delta().between([], [reported])
    key = ("21787", date(2026, 1, 1), date(2026, 3, 31), PLAN, "1", DUE, "commune", True)
    assert delta.counts[key] == [1, 1, 1, 0, 1]
    assert delta.outputs[("52", date(2026, 1, 1), date(2026, 3, 31), PLAN, "1", "article", False)] == [1, 0]


def test_a_coordinating_unit_adds_products_only_and_a_cancelled_assignment_nothing() -> None:
    helper = fact(role="coordinating", reported=True, outputs={"broadcast": 2})
    delta = Delta().between([], [helper])
    assert delta.counts == {} and len(delta.outputs) == 4
    assert Delta().between([], [replace(helper, cancelled=True)]).outputs == {}


def test_the_difference_of_a_correction_is_what_changed() -> None:
    before = fact(reported=True, first_reported_at=datetime(2026, 3, 1, 2, tzinfo=UTC), outputs={"broadcast": 2})
    after = replace(before, done_at=datetime(2026, 3, 2, 2, tzinfo=UTC), outputs={"broadcast": 5})
    delta = Delta().between([before], [after])
    assert {tuple(v) for v in delta.counts.values()} == {(0, 0, 0, 1, 0)}
    assert {tuple(v) for v in delta.outputs.values()} == {(0, 3)}
    assert not any(any(v) for v in Delta().between([after], [after]).counts.values())
