"""How the plans room shows what the API answered: a plan's status as a coloured badge, a period
code in words, the periods an official picks from, who leads a task, and how many of the units
given a task have reported on it (from the assignments the tasks service lists)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.vocabularies import PRODUCT_KINDS
from web.kit import period_label
from web.plans.forms import CHILDREN_PHRASE

# a plan's status: its Vietnamese name and the badge colour (web/static/app.css)
STATUS = {
    "draft": ("Dự thảo", "idle"),
    "issued": ("Đã ban hành", "ok"),
    "amended": ("Đã điều chỉnh", "info"),
    "closed": ("Đã kết thúc", "warn"),
}
ADMIN_LEVELS = ("province", "district", "commune")


def period_choices(year: int, *also: str) -> list[tuple[str, str]]:
    """The periods of the years around `year` (the year, its halves, nine months, quarters),
    and any other code given (a stored plan's), as (code, words)."""
    suffixes = ("", "-H1", "-H2", "-9M", "-Q1", "-Q2", "-Q3", "-Q4")
    codes = [f"{y}{suffix}" for y in (year, year + 1, year - 1) for suffix in suffixes]
    codes += [code for code in also if code and code not in codes]
    return [(code, period_label(code)) for code in codes]


def product_kinds() -> list[tuple[str, str]]:
    return [("", "— Chọn loại sản phẩm —"), *PRODUCT_KINDS.items()]


def leads(task: Mapping[str, Any], names: Mapping[str, str]) -> list[str]:
    """Who leads a task, as the plan wrote it: "every child unit" with their number, body names."""
    written = task.get("lead_text") or task.get("lead") or []
    return [
        f"{CHILDREN_PHRASE} ({len(task.get('lead') or [])} đơn vị)" if entry == "children" else names.get(entry, entry)
        for entry in written
    ]


def common_due(owing: Iterable[Mapping[str, Any]]) -> str | None:
    """The due date every unit that has not issued shares (said once), or None if they differ."""
    dues = {unit["due"] for unit in owing}
    return dues.pop() if len(dues) == 1 else None


@dataclass
class Coverage:
    """A task's assignments in the viewer's subtree: the units given it, those that reported."""

    units: set[str] = field(default_factory=set)
    reported: set[str] = field(default_factory=set)

    @property
    def share(self) -> float | None:
        return len(self.reported) / len(self.units) if self.units else None


def coverage(assignments: Iterable[Mapping[str, Any]]) -> dict[str, Coverage]:
    """Per task ref: how many units were assigned it (any period) and how many reported at least once."""
    found: dict[str, Coverage] = {}
    for item in assignments:
        task = found.setdefault(item["task_ref"], Coverage())
        task.units.add(item["unit"])
        if item.get("last_reported_at"):
            task.reported.add(item["unit"])
    return found
