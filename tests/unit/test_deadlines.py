"""Report deadline rules: pure date arithmetic, then the working-day move."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from shared.deadlines import DueRules
from shared.periods import Period
from shared.settings import Settings
from shared.timelines import occurrences, parse_timeline
from shared.workdays import WorkingCalendar

pytestmark = pytest.mark.unit


def test_the_default_is_decree_09_cutoff_on_the_14th_due_the_next_day() -> None:
    rules = DueRules()
    assert rules.cutoff(Period.parse("2026-Q2")) == (date(2026, 3, 15), date(2026, 6, 14))
    assert [rules.report_due(Period.parse(p)) for p in ("2026-Q1", "2026-H1", "2026-9M", "2026")] == [
        date(2026, 3, 15),
        date(2026, 6, 15),
        date(2026, 9, 15),
        date(2026, 12, 15),
    ]


def test_a_plan_moves_the_cutoff_and_staggers_lower_levels_earlier() -> None:
    rules = DueRules(cutoff_day=20, days_after_cutoff=5, earlier_by_level={"commune": 7, "body": 10})
    q3 = Period.parse("2026-Q3")
    assert rules.cutoff(q3) == (date(2026, 6, 21), date(2026, 9, 20))
    assert rules.report_due(q3, "province") == date(2026, 9, 25)
    assert rules.report_due(q3, "commune") == date(2026, 9, 18)
    assert rules.report_due(q3, "body") == date(2026, 9, 15)
    assert rules.report_due(q3) == date(2026, 9, 25)


def test_staggering_moves_periodic_reports_only_and_then_to_a_working_day() -> None:
    rules = DueRules(earlier_by_level={"commune": 1})
    quarterly = occurrences(
        parse_timeline("Định kỳ 01 lần/quý"),
        Period.parse("2026"),
        calendar=WorkingCalendar(),
        rules=rules,
        level="commune",
    )
    # 14/03 Saturday → Monday 16/03; 14/06 Sunday → 15/06; 14/09 Monday; 14/12 Monday
    assert [o.due for o in quarterly] == [date(2026, 3, 16), date(2026, 6, 15), date(2026, 9, 14), date(2026, 12, 14)]
    deadline = occurrences(parse_timeline("Trước ngày 30/11/2026"), Period.parse("2026"), rules=rules, level="commune")
    assert [(o.due, o.report) for o in deadline] == [(date(2026, 11, 30), False)]


def test_rules_out_of_range_or_unknown_are_refused() -> None:
    for bad in ({"cutoff_day": 29}, {"days_after_cutoff": 61}, {"earlier_by_level": {"xa": 1}}, {"cutoff": 3}):
        with pytest.raises(ValidationError):
            DueRules.model_validate(bad)


def test_a_deployment_sets_its_default_rule_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCHC_DUE_RULES", '{"earlier_by_level": {"commune": 5}}')
    rules = Settings().due_rules
    assert rules.report_due(Period.parse("2026-Q1"), "commune") == date(2026, 3, 10)
