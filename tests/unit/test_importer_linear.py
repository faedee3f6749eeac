"""The plan importer's work grows in proportion to the document, whatever its shape: a table laid
out with spaces under a header of thousands of columns, thousands of numbered items, a duty line
of many dates, a Word table with a cell merged down a thousand rows. Measured by counting the
function calls a parse makes (cProfile's count, which includes C calls such as `Match.start` and
`str.startswith`): deterministic, unlike a clock. Doubling the input must not much more than
double the calls; before the fixes, each of these shapes quadrupled them or worse.

The documents are generated in tests/fixtures/hostile.py."""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable

import pytest

from services.plans.importer import parse_plan
from tests.fixtures.hostile import HEAD, merged_down, numbered_items, reporting_dates, wide_layout_table

pytestmark = pytest.mark.unit


def calls(parse: Callable[[], object]) -> int:
    profile = cProfile.Profile()
    profile.runcall(parse)
    return int(pstats.Stats(profile).total_calls)  # type: ignore[attr-defined]


def grows_linearly(make: Callable[[int], tuple[bytes, str]], size: int) -> tuple[int, int]:
    small, name = make(size)
    big, _ = make(2 * size)
    parse_plan(small, name)  # warm up: compiled patterns and caches are not the document's cost
    return calls(lambda: parse_plan(small, name)), calls(lambda: parse_plan(big, name))


@pytest.mark.parametrize(
    ("make", "size"),
    [(wide_layout_table, 400), (numbered_items, 1_500), (reporting_dates, 400), (merged_down, 150)],
    ids=["columns-laid-out-with-spaces", "numbered-list-items", "dates-in-one-duty-clause", "cell-merged-down-a-table"],
)
def test_twice_the_document_costs_about_twice_the_work(make: Callable[[int], tuple[bytes, str]], size: int) -> None:
    small, big = grows_linearly(make, size)
    assert big < 2.3 * small, f"{small:,} calls, then {big:,} for twice the input"


def test_a_cell_merged_down_fifteen_hundred_rows_is_read_and_shared_by_every_row() -> None:
    """python-docx's `row.cells` follows a merge up one row at a time, recursively: past about a
    thousand rows it raised RecursionError (a 500), after minutes of work."""
    content, name = merged_down(1_500)
    draft = parse_plan(content, name)
    tasks = [task for task in draft.tasks if not task.group]
    assert len(tasks) == 1_500
    assert all([body.text for body in task.coordinating] == ["Các thôn"] for task in tasks)


def test_a_single_line_of_a_megabyte_without_a_new_line_is_read_as_text() -> None:
    content = (HEAD + "Tuyên truyền cải cách hành chính xã Ia Mơr, " * 25_000).encode()
    draft = parse_plan(content, "ke-hoach.txt")
    assert draft.tasks == [] and draft.number == "12/KH-UBND"
