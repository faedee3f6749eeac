"""Reporting periods: `2026`, `2026-H1`, `2026-9M`, `2026-Q1`, `2026-03` — one type for all.

Cut-off windows follow Decree 09/2019/NĐ-CP: a periodic report covers data from the 15th of
the month before the period to the 14th of the period's last month (year: 15/12 → 14/12).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

PeriodKind = Literal["year", "half", "nine_months", "quarter", "month"]

_PATTERN = re.compile(r"^(?P<year>\d{4})(?:-(?:(?P<h>H[12])|(?P<nm>9M)|(?P<q>Q[1-4])|(?P<m>0[1-9]|1[0-2])))?$")


class PeriodError(ValueError):
    pass


def _month_end(year: int, month: int) -> date:
    if month == 12:
        return date(year, 12, 31)
    return date(year, month + 1, 1) - timedelta(days=1)


@dataclass(frozen=True, order=True)
class Period:
    kind: PeriodKind
    year: int
    index: int = 0  # half 1-2, quarter 1-4, month 1-12; 0 for year and nine months

    @classmethod
    def parse(cls, code: str) -> Period:
        match = _PATTERN.match(code.strip())
        if not match:
            raise PeriodError(f"kỳ báo cáo không hợp lệ: {code!r} (dạng 2026, 2026-H1, 2026-9M, 2026-Q1, 2026-03)")
        year = int(match["year"])
        if not 1900 <= year <= 2100:
            raise PeriodError(f"năm của kỳ báo cáo phải từ 1900 đến 2100: {code!r}")
        if match["h"]:
            return cls("half", year, int(match["h"][1]))
        if match["nm"]:
            return cls("nine_months", year)
        if match["q"]:
            return cls("quarter", year, int(match["q"][1]))
        if match["m"]:
            return cls("month", year, int(match["m"]))
        return cls("year", year)

    @classmethod
    def quarter_of(cls, day: date) -> Period:
        return cls("quarter", day.year, (day.month - 1) // 3 + 1)

    @property
    def code(self) -> str:
        return {
            "year": f"{self.year}",
            "half": f"{self.year}-H{self.index}",
            "nine_months": f"{self.year}-9M",
            "quarter": f"{self.year}-Q{self.index}",
            "month": f"{self.year}-{self.index:02d}",
        }[self.kind]

    def __str__(self) -> str:
        return self.code

    @property
    def first_month(self) -> int:
        return {
            "year": 1,
            "half": 1 + 6 * (self.index - 1),
            "nine_months": 1,
            "quarter": 1 + 3 * (self.index - 1),
            "month": self.index,
        }[self.kind]

    @property
    def last_month(self) -> int:
        return {
            "year": 12,
            "half": 6 * self.index,
            "nine_months": 9,
            "quarter": 3 * self.index,
            "month": self.index,
        }[self.kind]

    @property
    def start(self) -> date:
        return date(self.year, self.first_month, 1)

    @property
    def end(self) -> date:
        return _month_end(self.year, self.last_month)

    def contains(self, other: Period) -> bool:
        return self.start <= other.start and other.end <= self.end

    def quarters(self) -> list[Period]:
        return [q for q in (Period("quarter", self.year, i) for i in range(1, 5)) if self.contains(q)]

    def months(self) -> list[Period]:
        return [Period("month", self.year, m) for m in range(self.first_month, self.last_month + 1)]

    def cutoff(self, day: int = 14) -> tuple[date, date]:
        """Data window of the periodic report for this period: Decree 09/2019/NĐ-CP cuts off on
        the 14th; a plan may choose another `day` (1–28)."""
        before = self.start - timedelta(days=1)
        return date(before.year, before.month, day) + timedelta(days=1), date(self.year, self.last_month, day)

    def label_vi(self) -> str:
        if self.kind == "half":
            return f"6 tháng {'đầu' if self.index == 1 else 'cuối'} năm {self.year}"
        if self.kind == "nine_months":
            return f"9 tháng năm {self.year}"
        if self.kind == "quarter":
            return f"quý {('I', 'II', 'III', 'IV')[self.index - 1]} năm {self.year}"
        if self.kind == "month":
            return f"tháng {self.index:02d}/{self.year}"
        return f"năm {self.year}"
