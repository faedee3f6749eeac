"""Working days in Vietnam: weekends and public holidays (the lunar Tết days included) come from
the maintained `holidays` calendar, which also knows the Saturdays swapped into working days;
compensatory days and swaps the government announces later are added by configuration."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays


class WorkingCalendar:
    def __init__(self, *, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()) -> None:
        self.extra_holidays = set(extra_holidays)
        self.extra_workdays = set(extra_workdays)
        self._years: dict[int, holidays.HolidayBase] = {}

    def _calendar(self, year: int) -> holidays.HolidayBase:
        if year not in self._years:
            self._years[year] = holidays.country_holidays("VN", years=year, language="vi")
        return self._years[year]

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        return bool(self._calendar(day.year).is_working_day(day))

    def holiday_name(self, day: date) -> str | None:
        name = self._calendar(day.year).get(day)
        return str(name) if name else ("Nghỉ bù" if day in self.extra_holidays else None)

    def on_or_after(self, day: date) -> date:
        """A time limit ending on a day off ends on the next working day (Civil Code, art. 148)."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day
