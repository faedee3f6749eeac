"""Pages of a list (phân trang): every list route answers `{"items", "count", "next_cursor"}`,
at most `limit` items (default 100, at most 500), and `next_cursor` — opaque, to pass back as
`cursor` for the next page, null on the last one.

Keyset pagination, not OFFSET: a cursor holds the sort key of the last row shown (e.g. its
`created_at` and `id`), and the next page starts strictly after it, so a deep page costs what
the first one does, and rows written between two fetches neither repeat nor push others out.
A cursor names its list and carries a check: one from another list, cut short or edited is 422
naming `cursor`. It is not a secret and grants nothing — every filter and the caller's scope
apply again on each page."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fastapi import Query
from sqlalchemy import ColumnElement, tuple_

from shared.errors import FieldProblem, InputError

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_CURSOR = 1000  # characters: a sort key of a few values is far shorter
BAD_CURSOR = "con trỏ trang không hợp lệ (hãy dùng đúng `next_cursor` của trang trước)"

Value = str | int | datetime | date | uuid.UUID
KINDS: dict[type, Callable[[Any], Value]] = {
    str: str,
    int: int,
    uuid.UUID: uuid.UUID,
    datetime: datetime.fromisoformat,
    date: date.fromisoformat,
}


def _check(payload: bytes) -> str:
    # catches a cursor cut short or edited by hand; not a signature (a cursor grants nothing)
    digest = hashlib.blake2b(payload, digest_size=6, person=b"cchc.pages").digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class Key:
    """The sort key of one list: its name (a cursor of another list is refused) and the types of
    the values, in order, that make the order total (the last one unique, e.g. an id)."""

    name: str
    types: tuple[type, ...]

    def encode(self, values: Sequence[Value]) -> str:
        if len(values) != len(self.types):
            raise ValueError(f"{self.name}: {len(values)} values for {len(self.types)} types")
        plain = [v.isoformat() if isinstance(v, date) else (str(v) if isinstance(v, uuid.UUID) else v) for v in values]
        payload = json.dumps([self.name, *plain], ensure_ascii=False, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _check(payload)

    def decode(self, cursor: str) -> tuple[Value, ...]:
        """The sort key a cursor holds; InputError (422, `cursor`) for anything else."""
        try:
            body, check = cursor.split(".")
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            if check != _check(payload):
                raise ValueError("check")
            name, *plain = json.loads(payload)
            if name != self.name or len(plain) != len(self.types):
                raise ValueError("another list")
            values = tuple(self._value(kind, v) for kind, v in zip(self.types, plain, strict=True))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise InputError([FieldProblem("cursor", BAD_CURSOR)]) from None
        return values

    @staticmethod
    def _value(kind: type, plain: Any) -> Value:
        if kind is int and (not isinstance(plain, int) or isinstance(plain, bool)):
            raise TypeError("int")
        if kind is not int and not isinstance(plain, str):
            raise TypeError("str")
        value = KINDS[kind](plain)
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value


@dataclass(frozen=True)
class Ask:
    """What the caller asked for: at most `limit` rows after the sort key `after` (None: the first page)."""

    key: Key
    limit: int = DEFAULT_LIMIT
    after: tuple[Value, ...] | None = None

    def where(self, *columns: Any, descending: bool = False) -> ColumnElement[bool] | None:
        """The keyset condition: rows strictly after the cursor in the order of `columns`
        (all ascending or all descending); None on the first page."""
        if self.after is None:
            return None
        row, at = tuple_(*columns), tuple_(*self.after)
        return row < at if descending else row > at

    def cut(self, rows: Sequence[Any], sort_key: Callable[[Any], Sequence[Value]]) -> Page:
        """The page from up to `limit + 1` rows fetched in order (the extra one: is there more?)."""
        shown = list(rows[: self.limit])
        if len(rows) > self.limit and shown:
            return Page(shown, self.key.encode(sort_key(shown[-1])))
        return Page(shown, None)

    def take(
        self, rows: Sequence[Any], sort_key: Callable[[Any], Sequence[Value]], *, descending: bool = False
    ) -> Page:
        """The page of a list already in memory, sorted by `sort_key` (a report's tasks and notes,
        computed whole for its totals): the rows after the cursor, cut to `limit`."""
        if self.after is not None:
            at = self.after
            rows = [r for r in rows if (tuple(sort_key(r)) < at if descending else tuple(sort_key(r)) > at)]
        return self.cut(rows[: self.limit + 1], sort_key)


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    next_cursor: str | None

    def json(self, item: Callable[[Any], Any] = lambda row: row, **extra: Any) -> dict[str, Any]:
        """The shape every list route answers with."""
        items = [item(r) for r in self.rows]
        return {"items": items, "count": len(items), "next_cursor": self.next_cursor, **extra}


def asking(key: Key, *, default: int = DEFAULT_LIMIT) -> Callable[..., Awaitable[Ask]]:
    """FastAPI dependency of a list route: `limit` and `cursor` from the query, checked. A list
    whose usual reading fits in the largest page (the children of a unit) says so by `default`."""

    async def dependency(  # async: FastAPI calls a plain def in a worker thread, for each request
        limit: int = Query(
            default, ge=1, le=MAX_LIMIT, description=f"số mục tối đa của một trang (mặc định {default})"
        ),
        cursor: str | None = Query(
            None, max_length=MAX_CURSOR, description="`next_cursor` của trang trước; bỏ trống: trang đầu"
        ),
    ) -> Ask:
        return Ask(key=key, limit=limit, after=key.decode(cursor) if cursor else None)

    return dependency
