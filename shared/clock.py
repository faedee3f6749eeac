"""One clock for the whole system: UTC inside, Vietnam time for every deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

VN = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock:
    """Injectable time source; tests pass a FixedClock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today_vn(self) -> date:
        return self.now().astimezone(VN).date()


class FixedClock(Clock):
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def vn_date(moment: datetime) -> date:
    """The calendar day in Vietnam on which an instant falls."""
    return moment.astimezone(VN).date()


def format_vn(day: date) -> str:
    """dd/mm/yyyy, as Vietnamese documents write dates."""
    return day.strftime("%d/%m/%Y")
