"""Where a unit named in a request lies, as notify knows it: requests name units by code, the
caller's scope is a path. Notify hears of a unit's path from the events it turns into
notifications (kept in `notify.units` as they are stored) and from the signed credentials of
the units' own people when they write; the caller's own path names its unit and its ancestors.
With the path known, the caller's right on it is checked (shared.access)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Text, bindparam, exists, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import models as m
from shared.access import Caller, Right
from shared.errors import Forbidden
from shared.units import within_path

u = m.units


async def heard(session: AsyncSession, *, code: str, path: str) -> None:
    """Remember where a unit is (a merge or a move may give a code a new path). Writes, and
    locks, only when that is news: this is on the path of every notification stored."""
    await heard_many(session, {code: path})


async def heard_many(session: AsyncSession, paths: dict[str, str]) -> None:
    """`heard` for each unit code → path, in one statement whatever their number (codes in order:
    concurrent transactions lock the rows they change in the same order)."""
    if paths:
        codes = sorted(paths)
        await session.execute(_HEARD, {"codes": codes, "paths": [paths[code] for code in codes]})


def _heard() -> Any:
    told = (
        func.unnest(bindparam("codes", type_=ARRAY(Text)), bindparam("paths", type_=ARRAY(Text)))
        .table_valued("code", "path")
        .render_derived(name="told")
    )
    known = exists().where(u.c.code == told.c.code, u.c.path == told.c.path)
    stmt = insert(u).from_select(["code", "path"], select(told.c.code, told.c.path).where(~known))
    return stmt.on_conflict_do_update(index_elements=["code"], set_={"path": stmt.excluded.path})


_HEARD = _heard()  # one text whatever the number of units: compiled and prepared once


def _from_credential(caller: Caller, code: str) -> str | None:
    """The path of the caller's unit or one of its ancestors, as the caller's signed path says."""
    segments = caller.unit_path.split(".")
    if caller.national or code not in segments:
        return None
    return ".".join(segments[: segments.index(code) + 1])


async def path_of(session: AsyncSession, *, caller: Caller, code: str) -> str | None:
    """The path of the unit with this code: the caller's unit or one of its ancestors (read from
    the caller's own path), or a unit notify has heard of; None if neither."""
    if (own := _from_credential(caller, code)) is not None:
        return own
    return (await session.execute(select(u.c.path).where(u.c.code == code))).scalar_one_or_none()


async def listed(session: AsyncSession, *, caller: Caller, right: Right, code: str) -> str | None:
    """The path of the unit a list is asked for (`unit=`), checked: 403 if it lies outside the
    caller's subtree; None if notify has not heard of the unit (a national caller's list is then
    by code alone, anyone else's is empty)."""
    path = await path_of(session, caller=caller, code=code)
    if path is not None:
        caller.require(right, path)
    return path


async def placed(
    session: AsyncSession, *, caller: Caller, right: Right, code: str, claimed: str | None = None, hint: str = ""
) -> str | None:
    """The path of the unit a write acts on, checked: 403 unless the caller has `right` there.
    `claimed` is the path the request gives for a unit notify has not heard of yet (a known unit
    is placed where notify knows it, whatever the request says). A national caller may name an
    unknown unit by code alone (path None); anyone else gets 403 (with `hint`: what to do)."""
    if (own := _from_credential(caller, code)) is not None:
        await heard(session, code=code, path=own)  # signed: as good as an event's word
    path = own or await path_of(session, caller=caller, code=code) or claimed
    if path is None:
        if caller.national:
            caller.require(right, caller.unit_path)
            return None
        raise Forbidden(f"Chưa biết đơn vị {code} thuộc đâu (chưa có thông báo nào cho đơn vị này){hint}")
    caller.require(right, path)
    return path


def in_subtree(path: ColumnElement[Any], caller: Caller) -> ColumnElement[bool]:
    """SQL: the unit path is the caller's unit or lies under it (segment-aware, as `within`)."""
    return within_path(path, caller.unit_path)
