"""The XLSX writer of the reports: what a cell holds is read back as it was given (text stays
text, whatever it looks like), empty cells are still boxed, and a row that does not fit its
header is refused rather than shifted."""

import io
import zipfile

import pytest
from openpyxl import load_workbook

from services.reports.spreadsheet import Sheet, xlsx_bytes

pytestmark = pytest.mark.unit

HEADER = ["Mã", "Đơn vị", "Số", "Tỷ lệ (%)"]


def sheet(rows: list[list[object]], title: str = "Đơn vị") -> Sheet:
    return Sheet(
        title=title,
        caption="Tình hình báo cáo quý I năm 2026 — Tỉnh Gia Lai",
        header=HEADER,
        rows=rows,
        total=["", "Tổng cộng", sum(r[2] for r in rows if isinstance(r[2], int)), None],
        widths=[15, 45, 15, 15],
    )


def test_cells_read_back_as_written_text_numbers_and_empty() -> None:
    typed = [
        ["23812", "Xã Lơ Pang", 20, 93.15000000000001],
        ["23767", "  hai dấu cách ở đầu và cuối  ", 0, None],
        ["23881", "a & b <c> \"d\" 'e'", 7, 100.0],
        ["23563", "dòng 1\r\ndòng 2\tcột", 3, 0.5],
        ["23564", '=HYPERLINK("http://example.invalid","bấm")', 1, 1e-05],
        ["23565", "Mô hình\u0007 hay\x0b\ufffe", 2, 12.34],
        ["", "\x07", 5, 3.0],
    ]
    book = load_workbook(io.BytesIO(xlsx_bytes([sheet(typed), sheet([], title="Ý kiến")])))
    assert book.sheetnames == ["Đơn vị", "Ý kiến"]
    rows = list(book["Đơn vị"].iter_rows(values_only=True))
    assert rows[0] == ("Tình hình báo cáo quý I năm 2026 — Tỉnh Gia Lai", None, None, None)
    assert rows[1] == tuple(HEADER)
    assert rows[2:-1] == [
        ("23812", "Xã Lơ Pang", 20, 93.15000000000001),
        ("23767", "  hai dấu cách ở đầu và cuối  ", 0, None),
        ("23881", "a & b <c> \"d\" 'e'", 7, 100),
        ("23563", "dòng 1\r\ndòng 2\tcột", 3, 0.5),
        ("23564", '=HYPERLINK("http://example.invalid","bấm")', 1, 1e-05),
        ("23565", "Mô hình hay", 2, 12.34),
        (None, None, 5, 3),  # "" and what is left of a control character: empty cells
    ]
    assert rows[-1] == (None, "Tổng cộng", 38, None)
    formula = book["Đơn vị"]["B7"]
    assert formula.data_type == "s"
    empty = list(book["Ý kiến"].iter_rows(values_only=True))
    assert empty == [(empty[0][0], None, None, None), tuple(HEADER), (None, "Tổng cộng", 0, None)]


def test_empty_cells_are_boxed_like_the_rest_of_their_row() -> None:
    book = load_workbook(io.BytesIO(xlsx_bytes([sheet([["1", "", 2, None]])])))
    rows = book["Đơn vị"]
    for cell in (rows["B3"], rows["D3"], rows["A4"], rows["D4"]):
        assert cell.value is None and cell.border.top.style == "thin" and cell.font.name == "Times New Roman"
    assert rows["A4"].font.b and not rows["B3"].font.b


def test_a_row_that_does_not_fit_the_header_is_refused() -> None:
    with pytest.raises(ValueError):
        xlsx_bytes([sheet([["1", "Xã A", 2]])])
    with pytest.raises(TypeError, match="bool"):
        xlsx_bytes([sheet([["1", "Xã A", 2, True]])])


def test_the_package_holds_every_part_a_spreadsheet_reader_looks_for() -> None:
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes([sheet([]), sheet([], title="Chậm báo cáo")]))) as package:
        names = set(package.namelist())
        assert {
            "[Content_Types].xml",
            "_rels/.rels",
            "docProps/core.xml",
            "docProps/app.xml",
            "xl/workbook.xml",
            "xl/_rels/workbook.xml.rels",
            "xl/styles.xml",
            "xl/theme/theme1.xml",
            "xl/worksheets/sheet1.xml",
            "xl/worksheets/sheet2.xml",
        } == names
        content_types = package.read("[Content_Types].xml").decode()
        assert all(f'PartName="/{name}"' in content_types for name in names if name.startswith("xl/w"))
        assert '<dimension ref="A1:D3"/>' in package.read("xl/worksheets/sheet2.xml").decode()
