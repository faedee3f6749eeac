"""What the dashboard room shows, shaped from the API's answers (no counting of its own): the
periods one may choose, the colour of a rate, the rows of the charts, and an officer's work
grouped by when it falls due."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from shared.periods import Period, PeriodError
from shared.vocabularies import CHANNELS, CONTENT_AREAS, PRODUCT_KINDS
from web.dashboard.charts import Bar, Point
from web.kit import period_label

REORGANISATION = date(2025, 7, 1)  # the district level abolished, communes merged
VIEWS = {"current": "Theo cơ cấu hiện nay", "as_reported": "Theo cơ cấu khi báo cáo"}
# audience sizes, not products: a sum of them with articles and conferences would mean nothing
AUDIENCE = frozenset({"participants", "reach", "entries"})
NO_AREA = "Chưa xác định lĩnh vực"
SOON_DAYS = 30  # "đến hạn trong 30 ngày tới"; later ones are listed after them


def periods_of(year: int) -> list[Period]:
    """The periods a dashboard may show for a year: quarters, halves, nine months, the year."""
    return [
        *(Period("quarter", year, i) for i in range(1, 5)),
        Period("half", year, 1),
        Period("nine_months", year),
        Period("half", year, 2),
        Period("year", year),
    ]


def period_choices(today: date, years: int = 3) -> list[tuple[int, list[tuple[str, str]]]]:
    """(year, [(code, label)]) for this year and the ones before it, newest first."""
    return [
        (year, [(p.code, period_label(p)) for p in periods_of(year)])
        for year in range(today.year, today.year - years, -1)
    ]


def chosen_period(code: str | None, today: date) -> Period:
    """The period asked for, or the current quarter when none (or an unreadable one) is given;
    the API still checks what it receives."""
    if code:
        try:
            return Period.parse(code)
        except PeriodError:
            pass
    return Period.quarter_of(today)


def spans_reorganisation(period: Period) -> bool:
    """The as-reported view differs from today's structure only for data before 1/7/2025."""
    return period.start < REORGANISATION


def rate_class(share: float | None) -> str:
    """The colour of a completeness or timeliness rate (badge and bar classes of app.css)."""
    if share is None:
        return "idle"
    if share >= 0.9:
        return "ok"
    if share >= 0.5:
        return "warn"
    return "bad"


def _products(counts: Mapping[str, int]) -> int:
    return sum(n for kind, n in counts.items() if kind not in AUDIENCE)


def bars_by_kind(outputs: Mapping[str, int]) -> list[Bar]:
    """Products by kind, the most first, with the labels of the fixed vocabulary."""
    bars = [Bar(PRODUCT_KINDS.get(kind, kind), n) for kind, n in outputs.items() if n]
    return sorted(bars, key=lambda b: -b.value)


def bars_by_group(grouped: Mapping[str, Mapping[str, int]], labels: Mapping[str, str]) -> list[Bar]:
    """Products (audience sizes left out) per content area or channel, the most first."""
    bars = [Bar(labels.get(key, key) if key else NO_AREA, _products(counts)) for key, counts in grouped.items()]
    return sorted((b for b in bars if b.value), key=lambda b: -b.value)


def bars_by_area(grouped: Mapping[str, Mapping[str, int]]) -> list[Bar]:
    return bars_by_group(grouped, CONTENT_AREAS)


def bars_by_channel(grouped: Mapping[str, Mapping[str, int]]) -> list[Bar]:
    return bars_by_group(grouped, CHANNELS)


def trend_points(items: Sequence[Mapping[str, Any]]) -> list[Point]:
    """Completeness per quarter, labelled 'Quý I' … (the period's label without its year)."""
    return [Point(period_label(i["period"]).rsplit(" năm ", 1)[0], i["completeness"]) for i in items]


@dataclass(frozen=True)
class Work:
    """Việc của tôi, grouped: overdue, due within the next days, due later, reports sent back."""

    overdue: list[dict[str, Any]]
    soon: list[dict[str, Any]]
    later: list[dict[str, Any]]
    returned: list[dict[str, Any]]
    counts: dict[str, int]

    @property
    def empty(self) -> bool:
        return not (self.overdue or self.soon or self.later or self.returned)


def work_of(answer: Mapping[str, Any], returned: Sequence[Mapping[str, Any]]) -> Work:
    """Split GET /api/assignments/work's upcoming items at SOON_DAYS from its `today`."""
    today = date.fromisoformat(answer["today"])
    horizon = (today + timedelta(days=SOON_DAYS)).isoformat()
    upcoming = sorted(answer["due_next"], key=lambda i: i["due"])
    return Work(
        overdue=sorted(answer["overdue"], key=lambda i: i["due"]),
        soon=[i for i in upcoming if i["due"] <= horizon],
        later=[i for i in upcoming if i["due"] > horizon],
        returned=[dict(r) for r in returned],
        counts=dict(answer.get("counts") or {}),
    )


def report_periods_to_watch(today: date) -> list[Period]:
    """The periodic reports a unit may still be asked to correct: those whose period is under way
    or ended within the last quarter."""
    recent = today - timedelta(days=92)
    candidates = [*periods_of(today.year), *periods_of(today.year - 1)]
    return [p for p in candidates if p.start <= today and p.end >= recent]
