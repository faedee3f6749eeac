"""The plan importer's work grows in proportion to the document, whatever its shape: a table laid
out with spaces under a header of thousands of columns, thousands of numbered items, a duty line
of many dates, a Word table with a cell merged down a thousand rows. Measured by counting the
function calls a parse makes (cProfile's count, which includes C calls such as `Match.start` and
`str.startswith`): deterministic, unlike a clock. Doubling the input must not much more than
double the calls; before the fixes, each of these shapes quadrupled them or worse.

Every document here is generated (our own wording, in the shapes of the real plans)."""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Callable

import pytest
from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from services.plans.importer import parse_plan

pytestmark = pytest.mark.unit

HEAD = (
    "ỦY BAN NHÂN DÂN\nXÃ IA MƠR\n\nSố: 12/KH-UBND\n\nIa Mơr, ngày 05 tháng 3 năm 2026\n\n"
    "KẾ HOẠCH\nTuyên truyền cải cách hành chính năm 2026\n\n"
)
HEADERS = ["STT", "Nhiệm vụ", "Chủ trì", "Phối hợp", "Thời gian", "Sản phẩm"]


def calls(parse: Callable[[], object]) -> int:
    profile = cProfile.Profile()
    profile.runcall(parse)
    return int(pstats.Stats(profile).total_calls)  # type: ignore[attr-defined]


def grows_linearly(make: Callable[[int], tuple[bytes, str]], size: int) -> tuple[int, int]:
    small, name = make(size)
    big, _ = make(2 * size)
    parse_plan(small, name)  # warm up: compiled patterns and caches are not the document's cost
    return calls(lambda: parse_plan(small, name)), calls(lambda: parse_plan(big, name))


def wide_layout_table(columns: int) -> tuple[bytes, str]:
    """`pdftotext -layout` text: a header of many columns and rows as wide, 12 characters a column."""

    def laid(cells: list[str]) -> str:
        return "".join(cell.ljust(12) for cell in cells)

    extra = [f"cột {i}" for i in range(columns)]
    rows = [laid(HEADERS + extra)]
    task = ["Tuyên truyền", "Phòng VHXH", "Các thôn", "Quý II/2026", "Tin, bài"]
    rows += [laid([str(n), *task, *extra]) for n in (1, 2)]
    return (HEAD + "\n".join(rows)).encode(), "ke-hoach.txt"


def numbered_items(count: int) -> tuple[bytes, str]:
    """A plan whose tasks are a numbered list (no table), each item with its facts below it."""
    lines = [HEAD + "II. NỘI DUNG, HÌNH THỨC"]
    for n in range(count):
        lines += [
            f"{n % 90 + 1}.{n % 7 + 1} Tuyên truyền cải cách thủ tục hành chính đợt {n}",
            "- Chủ trì: Phòng Văn hóa - Xã hội",
            "- Thời gian: Quý III năm 2026",
        ]
    return "\n".join(lines).encode(), "ke-hoach.txt"


def reporting_dates(count: int) -> tuple[bytes, str]:
    """One duty line naming two periods and many dates, as one long clause."""
    days = (f"{n % 28 + 1}/{n % 12 + 1}/{2026 + n % 40}" for n in range(count))
    dates = ", ".join(f"báo cáo quý và 6 tháng trước ngày {day}" for day in days)
    text = f"{HEAD}III. TỔ CHỨC THỰC HIỆN\n1. Phòng Văn hóa - Xã hội: {dates}.\n"
    return text.encode(), "ke-hoach.txt"


def merged_down(rows: int) -> tuple[bytes, str]:
    """A Word appendix table whose coordinating cell is merged down every row."""
    document = Document()
    for text in ("ỦY BAN NHÂN DÂN XÃ IA MƠR", "Số: 12/KH-UBND", "KẾ HOẠCH", "Tuyên truyền năm 2026"):
        document.add_paragraph(text)
    table = document.add_table(rows=1, cols=6)
    for cell, text in zip(table.rows[0].cells, HEADERS, strict=True):
        cell.text = text
    for n in range(rows):
        cells = table.add_row().cells
        values = [str(n % 900 + 1), f"Tuyên truyền đợt {n}", "Phòng Văn hóa - Xã hội", "Các thôn" if n == 0 else ""]
        for cell, text in zip(cells, [*values, "Quý II năm 2026", "Tin, bài"], strict=True):
            cell.text = text
        merge = OxmlElement("w:vMerge")
        if n == 0:
            merge.set(qn("w:val"), "restart")
        cells[3]._tc.get_or_add_tcPr().append(merge)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue(), "ke-hoach.docx"


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
