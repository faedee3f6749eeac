"""Pure aggregation maths of reports: rates are recomputed from counts, never copied."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rollup:
    unit: str
    period: str
    expected: int
    reported: int
    on_time: int
    outputs: dict[str, int] = field(default_factory=dict)

    @property
    def completeness(self) -> float | None:
        """Reports received / expected (tỷ lệ báo cáo đầy đủ)."""
        return round(self.reported / self.expected, 4) if self.expected else None

    @property
    def timeliness(self) -> float | None:
        """Reports received by the due date / expected (tỷ lệ báo cáo đúng hạn)."""
        return round(self.on_time / self.expected, 4) if self.expected else None


def ancestors(path: str) -> list[str]:
    """'52.21787' → ['52', '21787']: every unit a fact rolls up to."""
    return path.split(".")


def rollup_to(code: str, *, paths: dict[str, str], successor: dict[str, str]) -> list[str]:
    """The units `code`'s facts count for in today's structure: its own path, and for the unit
    and each of its ancestors, the path of the unit that took it over (following default
    successors: a merged commune → the new commune, an abolished district → the province).
    So a body inside a merged commune also rolls up to the new commune."""
    codes: list[str] = []

    def follow(start: str) -> None:
        seen: set[str] = set()
        current: str | None = start
        while current is not None and current not in seen:
            seen.add(current)
            for unit in ancestors(paths.get(current, current)):
                if unit not in codes:
                    codes.append(unit)
            current = successor.get(current)

    for unit in ancestors(paths.get(code, code)):
        follow(unit)
    return codes
