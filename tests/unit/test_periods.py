"""Reporting periods and the Decree 09/2019 cut-off windows."""

from __future__ import annotations

from datetime import date

import pytest

from shared.periods import Period, PeriodError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("code", ["2026", "2026-H1", "2026-H2", "2026-9M", "2026-Q1", "2026-Q4", "2026-03", "2026-12"])
def test_period_codes_round_trip(code: str) -> None:
    assert Period.parse(code).code == code


@pytest.mark.parametrize("code", ["26", "2026-Q5", "2026-H3", "2026-13", "2026-q1 ", "Q1-2026"])
def test_malformed_period_codes_are_refused(code: str) -> None:
    with pytest.raises(PeriodError):
        Period.parse(code)


def test_cut_off_runs_from_the_15th_of_the_month_before_to_the_14th_of_the_last_month() -> None:
    assert Period.parse("2026-Q1").cutoff() == (date(2025, 12, 15), date(2026, 3, 14))
    assert Period.parse("2026").cutoff() == (date(2025, 12, 15), date(2026, 12, 14))
    assert Period.parse("2026-9M").cutoff() == (date(2025, 12, 15), date(2026, 9, 14))


def test_a_year_contains_its_quarters_and_months_but_not_the_next_year() -> None:
    year = Period.parse("2026")
    assert year.contains(Period.parse("2026-Q3")) and year.contains(Period.parse("2026-07"))
    assert not Period.parse("2026-H1").contains(Period.parse("2026-Q3"))
    assert not year.contains(Period.parse("2027-Q1"))


def test_vietnamese_labels() -> None:
    assert Period.parse("2025-H2").label_vi() == "6 tháng cuối năm 2025"
    assert Period.parse("2025-Q3").label_vi() == "quý III năm 2025"
    assert [Period.parse(f"2025-{m:02d}").label_vi() for m in (1, 12)] == ["tháng 01/2025", "tháng 12/2025"]
