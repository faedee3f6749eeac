"""Unit paths and successions, said once: a unit's path lists the codes from the province down
to it (`52.21787`, `52.21787.VHXH`); "under" is segment-aware (`52.21787` is under `52`, a unit
`521…` is not); an ended unit's history follows its default successor (merge, abolition)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Text, and_, cast, func, literal_column, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access import EVERYWHERE
from shared.events import UnitRef

SEPARATOR = "."


def ancestors(path: str) -> list[str]:
    """'52.21787' → ['52', '21787']: the unit itself and every unit above it, root first."""
    return path.split(SEPARATOR)


def parent(path: str) -> str | None:
    """The code of the unit directly above, or None for a root (a province)."""
    head, _, _ = path.rpartition(SEPARATOR)
    return head.rpartition(SEPARATOR)[2] if head else None


def is_under(path: str, code: str) -> bool:
    """True if the unit at `path` is `code` or lies below it."""
    return code in ancestors(path)


def path_segments(column: Any) -> ColumnElement[Any]:
    """SQL: a text path column as its array of codes. The separator is a literal, not a bind
    parameter, so the expression matches the GIN indexes built on it (`<table>_under`)."""
    return func.string_to_array(column, literal_column("'.'"), type_=ARRAY(Text))


def under(column: Any, code: str) -> ColumnElement[bool]:
    """SQL: the unit whose path (a text column) or ancestors (a text[] column) is `column` is
    `code` or lies below it. Served by a GIN index on the column or on `path_segments(column)`."""
    wanted = cast([code], ARRAY(Text))
    if isinstance(column.type, ARRAY):
        return column.op("@>")(wanted)  # type: ignore[no-any-return]
    return path_segments(column).op("@>")(wanted)  # type: ignore[no-any-return]


def within_path(column: Any, scope: str) -> ColumnElement[bool]:
    """SQL twin of `shared.access.within`: the unit whose path (a text column) is `column` is the
    unit at path `scope` or lies below it, comparing whole paths (a body `48.20000.VHXH` is not
    within `52.21787.VHXH`); every unit for the national scope "*". The `under` of the scope's own
    code lets a GIN index on the path's codes serve it."""
    if scope == EVERYWHERE:
        return true()
    return and_(
        under(column, scope.rpartition(SEPARATOR)[2]),
        or_(column == scope, column.startswith(scope + SEPARATOR, autoescape=True)),
    )


def under_any(column: Any, codes: Iterable[str]) -> ColumnElement[bool]:
    """SQL: the unit at `column` (a text path) is one of `codes` or lies below one of them."""
    return path_segments(column).op("&&")(cast(sorted(set(codes)), ARRAY(Text)))  # type: ignore[no-any-return]


def successors(code: str, links: Mapping[str, str]) -> Iterator[str]:
    """`code`, then the unit that took it over, and so on (`links`: old → default new); stops
    at a unit taken over by no one, and at a cycle."""
    seen: set[str] = set()
    current: str | None = code
    while current is not None and current not in seen:
        seen.add(current)
        yield current
        current = links.get(current)


async def taken_over(session: AsyncSession, table: Any, codes: Iterable[str]) -> set[str]:
    """Every unit that became one of `codes`, directly or through other successions (`table`
    has `old_code` and `new_code`); `codes` themselves are not included unless in a cycle."""
    found: set[str] = set()
    frontier = set(codes)
    while frontier:
        before = set((await session.execute(select(table.c.old_code).where(table.c.new_code.in_(frontier)))).scalars())
        frontier = before - found
        found |= frontier
    return found


def unit_ref(row: Any, prefix: str = "unit_") -> UnitRef:
    """A UnitRef from a row with `<prefix>code`, `<prefix>path` and optionally `<prefix>name`."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    return UnitRef(
        code=mapping[f"{prefix}code"],
        path=mapping[f"{prefix}path"] or mapping[f"{prefix}code"],
        name=mapping.get(f"{prefix}name") or "",
    )
