"""Due dates move off weekends and public holidays, Tết included, to the next working day."""

from __future__ import annotations

from datetime import date

import pytest

from shared.periods import Period
from shared.timelines import occurrences, parse_timeline
from shared.workdays import WorkingCalendar

pytestmark = pytest.mark.unit


def test_a_due_date_on_a_sunday_moves_to_monday() -> None:
    assert WorkingCalendar().on_or_after(date(2026, 3, 15)) == date(2026, 3, 16)


def test_a_due_date_in_tet_moves_past_the_lunar_new_year_holidays() -> None:
    calendar = WorkingCalendar()
    assert calendar.holiday_name(date(2026, 2, 17)) is not None
    assert calendar.on_or_after(date(2026, 2, 15)) == date(2026, 2, 23)


def test_a_saturday_swapped_into_a_working_day_is_a_working_day() -> None:
    assert WorkingCalendar().on_or_after(date(2025, 4, 26)) == date(2025, 4, 26)


def test_announced_days_off_and_swaps_come_from_configuration() -> None:
    calendar = WorkingCalendar(extra_holidays={date(2026, 6, 15)}, extra_workdays={date(2026, 3, 15)})
    assert calendar.on_or_after(date(2026, 6, 15)) == date(2026, 6, 16)
    assert calendar.on_or_after(date(2026, 3, 15)) == date(2026, 3, 15)


def test_occurrences_use_the_calendar_when_given() -> None:
    found = occurrences(parse_timeline("hằng quý"), Period.parse("2026"), calendar=WorkingCalendar())
    assert [o.due for o in found] == [date(2026, 3, 16), date(2026, 6, 15), date(2026, 9, 15), date(2026, 12, 15)]
