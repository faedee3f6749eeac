"""Pure rules of reports: which units a unit's facts count for in today's structure. The
figures themselves are counted in SQL (queries.py), rates recomputed there from the counts."""

from __future__ import annotations

from shared.units import ancestors, successors


def rollup_to(code: str, *, paths: dict[str, str], successor: dict[str, str]) -> list[str]:
    """The units `code`'s facts count for in today's structure: its own path, and for the unit
    and each of its ancestors, the path of the unit that took it over (following default
    successors: a merged commune → the new commune, an abolished district → the province).
    So a body inside a merged commune also rolls up to the new commune."""
    codes: list[str] = []
    for unit in ancestors(paths.get(code, code)):
        for current in successors(unit, successor):
            codes += [c for c in ancestors(paths.get(current, current)) if c not in codes]
    return codes
