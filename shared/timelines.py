"""Timelines as officials write them ("Thường xuyên", "Định kỳ 01 lần/quý", "Quý III năm 2025",
"Trước ngày 30/11/2025" …) parsed once into a structured Schedule, and expanded into
occurrences (period + due date) inside a plan's period. Used by the API and the importer alike.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, model_validator

from shared.deadlines import DueRules
from shared.periods import Period
from shared.text import normalize
from shared.workdays import WorkingCalendar

ScheduleKind = Literal["ongoing", "periodic", "quarter", "month", "deadline", "year"]
Every = Literal["month", "quarter", "half", "nine_months", "year"]


class TimelineError(ValueError):
    """Text that is not a timeline we understand; the message names the text."""


class Schedule(BaseModel):
    kind: ScheduleKind
    every: Every | None = None
    # A reporting cycle such as "quý I, 6 tháng, quý III, năm": period suffixes Q1, H1, 9M, Y.
    cycle: list[str] | None = None
    year: int | None = None
    quarter: int | None = None
    month: int | None = None
    date: dt.date | None = None
    text: str = ""

    @model_validator(mode="after")
    def _complete(self) -> Schedule:
        missing = {
            "periodic": self.every is None and not self.cycle,
            "quarter": self.quarter is None,
            "month": self.month is None,
            "deadline": self.date is None,
        }.get(self.kind, False)
        if missing:
            raise ValueError(f"lịch thực hiện kiểu {self.kind!r} thiếu thông tin bắt buộc")
        if self.quarter is not None and not 1 <= self.quarter <= 4:
            raise ValueError("quý phải từ 1 đến 4")
        if self.month is not None and not 1 <= self.month <= 12:
            raise ValueError("tháng phải từ 1 đến 12")
        return self


@dataclass(frozen=True)
class Occurrence:
    """One time a task must be done and reported: a period and its due date (Vietnam time)."""

    period: Period
    due: date
    report: bool = False  # due by the periodic-report rule (DueRules), not by a date in the text


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}
# OCR reads roman numerals with l, 1 and | in place of I ("quy Il", "quy 1V").
_ROMAN_TOKEN = r"(?:[il1|]{1,3}v?|iv|[il1|]?v|[1-4])"


def _roman(token: str) -> int | None:
    cleaned = token.lower().replace("l", "i").replace("|", "i")
    if cleaned in {"1", "2", "3", "4"}:
        return int(cleaned)
    cleaned = cleaned.replace("1", "i")
    return _ROMAN.get(cleaned)


_PREFIX = re.compile(r"^(thoi gian( thuc hien)?|thoi han|tien do)\s*:?\s*")
_YEAR = r"(?:nam\s*)?(?P<year>(?:19|20)\d{2})"
_ONGOING = re.compile(r"^(thuong xuyen|lien tuc|hang ngay)")
_DEADLINE = re.compile(
    r"(?:truoc|cham nhat|han chot|den het|hoan thanh truoc)\s*(?:ngay\s*)?"
    r"(?P<d>\d{1,2})\s*[/.-]\s*(?P<m>\d{1,2})\s*[/.-]\s*(?P<y>\d{4})"
)
_DEADLINE_WORDS = re.compile(
    r"(?:truoc|cham nhat)\s*ngay\s*(?P<d>\d{1,2})\s*thang\s*(?P<m>\d{1,2})\s*nam\s*(?P<y>\d{4})"
)
_QUARTER = re.compile(rf"^(?:trong\s+)?quy\s*(?P<q>{_ROMAN_TOKEN})\b\s*(?:[/,-]?\s*{_YEAR})?$")
_MONTH = re.compile(r"^(?:trong\s+)?thang\s*(?P<m>\d{1,2})\s*(?:[/-]\s*(?P<y1>\d{4})|nam\s*(?P<y2>\d{4}))?$")
_WITHIN_YEAR = re.compile(rf"^(?:trong|ca)\s+{_YEAR}$|^nam\s+(?P<y2>(?:19|20)\d{{2}})$|^(?:trong|ca) nam$")
_PERIODIC = [
    (re.compile(r"(01|1|mot)\s*lan\s*/\s*quy|(hang|hang|moi)\s*quy|dinh ky\s*(hang\s*)?quy|theo quy"), "quarter"),
    (re.compile(r"(01|1|mot)\s*lan\s*/\s*thang|(hang|moi)\s*thang|dinh ky\s*(hang\s*)?thang"), "month"),
    (re.compile(r"(01|1|mot)\s*lan\s*/\s*nam|(hang|moi)\s*nam|dinh ky\s*(hang\s*)?nam"), "year"),
    (
        re.compile(
            r"^(dinh ky\s*)?(06|6) thang( mot lan)?$|(01|1) lan\s*/\s*(06|6) thang|(06|6) thang\s*/\s*(01 |1 )?lan"
        ),
        "half",
    ),
    (re.compile(r"^(dinh ky\s*)?9 thang$"), "nine_months"),
]
_CYCLE_ITEM = re.compile(
    rf"^(?:quy\s*(?P<q>{_ROMAN_TOKEN})|(?P<h>0?6 thang(?: (?P<hw>dau|cuoi) nam)?)|(?P<nm>9 thang)|(?P<y>(?:ca )?nam))$"
)


def _cycle(text: str) -> list[str] | None:
    """'quý I, 6 tháng, quý III, năm' → ['Q1', 'H1', 'Q3', 'Y']; None if not such a list."""
    body = re.sub(r"^(bao cao\s+)?(dinh ky\s*)?:?\s*", "", text)
    body = re.sub(rf"\s*(?:,\s*)?{_YEAR}$", "", body) if "," in body else body
    items = [part.strip() for part in re.split(r",|;| va ", body) if part.strip()]
    if len(items) < 2:
        return None
    codes: list[str] = []
    for item in items:
        match = _CYCLE_ITEM.match(item)
        if not match:
            return None
        if match["q"]:
            quarter = _roman(match["q"])
            if quarter is None:
                return None
            codes.append(f"Q{quarter}")
        elif match["h"]:
            codes.append("H2" if match["hw"] == "cuoi" else "H1")
        elif match["nm"]:
            codes.append("9M")
        else:
            codes.append("Y")
    return codes


def parse_timeline(text: str) -> Schedule:
    """Turn a timeline as written in a plan into a Schedule; TimelineError if not understood."""
    original = text.strip()
    if not original:
        raise TimelineError("thời gian thực hiện để trống")
    norm = _PREFIX.sub("", normalize(original)).rstrip(" .;")
    norm = re.sub(r"\s*/\s*", "/", norm.replace("*", ""))

    if _ONGOING.match(norm):
        return Schedule(kind="ongoing", text=original)
    for pattern in (_DEADLINE, _DEADLINE_WORDS):
        match = pattern.search(norm)
        if match:
            try:
                day = date(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError as exc:
                raise TimelineError(f"ngày không hợp lệ trong thời gian thực hiện: {original!r}") from exc
            return Schedule(kind="deadline", date=day, year=day.year, text=original)
    cycle = _cycle(norm)
    if cycle:
        return Schedule(kind="periodic", cycle=cycle, text=original)
    for pattern, every in _PERIODIC:
        if pattern.search(norm):
            return Schedule(kind="periodic", every=every, text=original)  # type: ignore[arg-type]
    match = _QUARTER.match(norm)
    if match:
        quarter = _roman(match["q"])
        if quarter is not None:
            year = int(match["year"]) if match["year"] else None
            return Schedule(kind="quarter", quarter=quarter, year=year, text=original)
    match = _MONTH.match(norm)
    if match:
        year_text = match["y1"] or match["y2"]
        month = int(match["m"])
        if 1 <= month <= 12:
            return Schedule(kind="month", month=month, year=int(year_text) if year_text else None, text=original)
    match = _WITHIN_YEAR.match(norm)
    if match:  # "Cả năm" without a year: the plan's year
        year_text = match["year"] or match["y2"]
        return Schedule(kind="year", year=int(year_text) if year_text else None, text=original)
    raise TimelineError(f"không hiểu thời gian thực hiện: {original!r}")


def coerce_schedule(value: str | dict[str, object] | Schedule) -> Schedule:
    """Accept the Vietnamese text or the structured form, as the API does."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, str):
        return parse_timeline(value)
    return Schedule.model_validate(value)


def _cycle_period(code: str, year: int) -> Period:
    return {
        "Y": Period("year", year),
        "9M": Period("nine_months", year),
        "H1": Period("half", year, 1),
        "H2": Period("half", year, 2),
    }.get(code) or Period("quarter", year, int(code[1]))


def occurrences(
    schedule: Schedule,
    plan_period: Period,
    *,
    calendar: WorkingCalendar | None = None,
    rules: DueRules | None = None,
    level: str | None = None,
) -> list[Occurrence]:
    """Expand a schedule into the occurrences that fall inside the plan period. Periodic reports
    are due by `rules` (Decree 09/2019 by default), earlier for a `level` the rules stagger; with
    a calendar, a due date on a weekend or public holiday moves to the next working day."""
    rules = rules or DueRules()
    found = [
        Occurrence(o.period, rules.report_due(o.period, level), report=True) if o.report else o
        for o in _occurrences(schedule, plan_period)
    ]
    if calendar is None:
        return found
    return [Occurrence(o.period, calendar.on_or_after(o.due), o.report) for o in found]


def _occurrences(schedule: Schedule, plan_period: Period) -> list[Occurrence]:
    year = plan_period.year
    reporting: list[Period]
    if schedule.kind == "ongoing":
        reporting = plan_period.quarters() or [plan_period]
    elif schedule.kind == "periodic" and schedule.cycle:
        reporting = [_cycle_period(code, year) for code in schedule.cycle]
    elif schedule.kind == "periodic":
        reporting = {
            "month": plan_period.months(),
            "quarter": plan_period.quarters(),
            "half": [Period("half", year, i) for i in (1, 2)],
            "nine_months": [Period("nine_months", year)],
            "year": [Period("year", year)],
        }[schedule.every or "quarter"]
    else:
        single = _single(schedule, year)
        if not plan_period.contains(single.period) and not (plan_period.start <= single.due <= plan_period.end):
            raise TimelineError(
                f"thời gian thực hiện {schedule.text or schedule.kind!r} nằm ngoài kỳ của kế hoạch "
                f"({plan_period.label_vi()})"
            )
        return [single]
    return [Occurrence(p, p.end, report=True) for p in reporting if plan_period.contains(p)]


def _single(schedule: Schedule, plan_year: int) -> Occurrence:
    year = schedule.year or plan_year
    if schedule.kind == "quarter":
        period = Period("quarter", year, schedule.quarter or 1)
        return Occurrence(period, period.end)
    if schedule.kind == "month":
        period = Period("month", year, schedule.month or 1)
        return Occurrence(period, period.end)
    if schedule.kind == "deadline":
        assert schedule.date is not None
        return Occurrence(Period.quarter_of(schedule.date), schedule.date)
    period = Period("year", year)
    return Occurrence(period, period.end)
