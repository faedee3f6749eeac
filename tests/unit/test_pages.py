"""The page cursor (shared/pages.py): it gives back the sort key it was made from, and refuses
with 422 naming `cursor` whatever was not made by the same list."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime

import pytest

from shared.errors import InputError
from shared.pages import Ask, Key

NEWEST = Key("test-newest", (datetime, uuid.UUID))
AT = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
ID = uuid.UUID("0b7c8a4e-2f6d-4a31-9a7e-5c1d2e3f4a5b")


def refused(key: Key, cursor: str) -> str:
    with pytest.raises(InputError) as caught:
        key.decode(cursor)
    assert caught.value.status == 422
    [problem] = caught.value.problems
    assert problem.field == "cursor"
    return problem.message


def test_a_cursor_gives_back_the_sort_key_it_was_made_from() -> None:
    assert NEWEST.decode(NEWEST.encode((AT, ID))) == (AT, ID)
    mixed = Key("test-mixed", (date, str, int))
    assert mixed.decode(mixed.encode((date(2026, 3, 31), "Xã Vĩnh Sơn", 7))) == (date(2026, 3, 31), "Xã Vĩnh Sơn", 7)


def test_a_cursor_is_url_safe_text() -> None:
    cursor = Key("test-name", (str, str)).encode(("52.21787/?&=", "Phòng Văn hóa - Xã hội"))
    assert all(c.isalnum() or c in "-_." for c in cursor)


@pytest.mark.parametrize(
    "cursor",
    ["", "abc", "abc.def", "a.b.c", "!!!.???", "x" * 40, base64.urlsafe_b64encode(b"[1,2]").decode() + ".AAAAAAAA"],
)
def test_text_that_is_no_cursor_is_refused_naming_cursor_in_vietnamese(cursor: str) -> None:
    assert "con trỏ trang không hợp lệ" in refused(NEWEST, cursor)


def test_a_cursor_edited_by_hand_is_refused() -> None:
    body, check = NEWEST.encode((AT, ID)).split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload[1] = "2020-01-01T00:00:00+00:00"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    refused(NEWEST, f"{forged}.{check}")


def test_a_cursor_of_another_list_is_refused() -> None:
    other = Key("test-other", (datetime, uuid.UUID))
    refused(NEWEST, other.encode((AT, ID)))


def test_a_cursor_whose_values_are_not_of_the_keys_types_is_refused() -> None:
    loose = Key("test-newest", (str, str))  # same name, values the real key cannot read
    refused(NEWEST, loose.encode(("2026-03-01T08:30:15", str(ID))))  # a time without its zone
    refused(NEWEST, loose.encode((AT.isoformat(), "not-a-uuid")))
    counted = Key("test-counted", (int,))
    refused(counted, Key("test-counted", (str,)).encode(("7",)))


def test_a_page_holds_at_most_limit_rows_and_a_cursor_only_when_more_follow() -> None:
    key = Key("test-numbers", (int,))
    first = Ask(key=key, limit=3).cut([1, 2, 3, 4], lambda n: (n,))
    assert first.rows == [1, 2, 3] and first.next_cursor is not None
    assert key.decode(first.next_cursor) == (3,)
    last = Ask(key=key, limit=3).cut([1, 2, 3], lambda n: (n,))
    assert last.rows == [1, 2, 3] and last.next_cursor is None
    assert last.json(lambda n: n * 10) == {"items": [10, 20, 30], "count": 3, "next_cursor": None}


def test_walking_a_list_in_memory_gives_every_row_once_in_order() -> None:
    key = Key("test-names", (str, int))
    rows = sorted([(name, n) for n, name in enumerate("mnbvcxzlkjhgfdsa")])
    for descending in (False, True):
        ordered = sorted(rows, reverse=descending)
        seen: list[tuple[str, int]] = []
        cursor: str | None = None
        while True:
            page = Ask(key=key, limit=5, after=key.decode(cursor) if cursor else None).take(
                ordered, lambda r: r, descending=descending
            )
            seen += page.rows
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == ordered
