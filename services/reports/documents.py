"""The periodic report of a unit as official documents, in Vietnamese.

DOCX in the layout of Decree 30/2020/NĐ-CP (Appendix I): A4, Times New Roman, margins
20/20/30/15 mm; the issuing body and number/symbol on the left and the national motto on the
right of the header; place and date; the title; the body with its tables; the recipients
("Nơi nhận") on the left and the signature block on the right. XLSX of the tasks, the units,
the lagging units and everything quoted (spreadsheet.py writes the file). Both are built from
`PeriodicReport`, the same data the JSON endpoint returns.

The large parts are copies: a table's data rows copy one row python-docx made, the quoted lines
one paragraph, each given its own text; python-docx setting each run's properties one by one
took 1.6 s for a province's unit table (bench/documents_speed.py).
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table

from services.reports.spreadsheet import Sheet
from services.reports.spreadsheet import xlsx_bytes as spreadsheet_bytes
from shared.periods import Period
from shared.text import grouped, printable
from shared.vocabularies import CONTENT_AREAS, PRODUCT_KINDS

FONT = "Times New Roman"
LEVEL_LABELS = {
    "province": "Cấp tỉnh",
    "district": "Cấp huyện",
    "commune": "Cấp xã",
    "body": "Cơ quan",
    "village": "Thôn, tổ dân phố",
}
NAMED_AFTER_PEOPLE = {"Hồ Chí Minh"}  # places named after a person keep their full name
UNIT_PREFIXES = ("Thành phố", "Tỉnh", "Phường", "Đặc khu", "Thị trấn", "Thị xã", "Quận", "Huyện", "Xã")


@dataclass
class PeriodicReport:
    unit: str
    unit_name: str
    unit_level: str
    parent_name: str | None
    period: Period
    view: str
    issued_on: date
    number: str
    totals: dict[str, Any]
    outputs: dict[str, int]
    outputs_by_area: dict[str, dict[str, int]]
    tasks: list[dict[str, Any]]
    children: list[dict[str, Any]]
    lagging: list[dict[str, Any]]
    highlights: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"Kết quả công tác tuyên truyền cải cách hành chính {self.period.label_vi()}"

    @property
    def place(self) -> str:
        """The locality in the date line: the unit's name without "Tỉnh", "Xã" …"""
        for prefix in UNIT_PREFIXES:
            if self.unit_name.startswith(prefix + " "):
                rest = self.unit_name[len(prefix) + 1 :]
                return self.unit_name if rest in NAMED_AFTER_PEOPLE else rest
        return self.unit_name

    signer: str = ""  # the signer's full name under the signature, when known

    @property
    def issuer(self) -> str:
        return f"ỦY BAN NHÂN DÂN {self.unit_name}".upper()

    @property
    def issuer_lines(self) -> list[tuple[str, dict[str, Any]]]:
        """The issuing body's name, under its governing body's for a body (Decree 30, item 3)."""
        if self.unit_level == "body" and self.parent_name:
            return [
                (f"ỦY BAN NHÂN DÂN {self.parent_name}".upper(), {"size": 13}),
                (self.unit_name.upper(), {"bold": True, "size": 13}),
            ]
        return [(self.issuer, {"bold": True, "size": 13})]

    @property
    def signature(self) -> list[str]:
        """Who signs: on behalf of the People's Committee, or the head of a body."""
        if self.unit_level != "body":
            return ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
        return ["TRƯỞNG PHÒNG" if self.unit_name.startswith("Phòng ") else "THỦ TRƯỞNG CƠ QUAN"]

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "unit_name": self.unit_name,
            "parent_name": self.parent_name,  # the unit it reports to (none: it reports to no one here)
            "period": self.period.code,
            "period_label": self.period.label_vi(),
            "view": self.view,
            "number": self.number,
            "issued_on": self.issued_on.isoformat(),
            "title": self.title,
            **self.totals,
            "outputs": self.outputs,
            "outputs_by_area": self.outputs_by_area,
            "tasks": self.tasks,
            "children": self.children,
            "lagging": self.lagging,
            "highlights": self.highlights,
        }


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}".replace(".", ",") + "%"


def number(n: int) -> str:
    """1.234: the Vietnamese thousands separator."""
    return grouped(n)


def products(outputs: dict[str, int]) -> str:
    return "; ".join(f"{PRODUCT_KINDS.get(kind, kind)}: {number(n)}" for kind, n in sorted(outputs.items()))


def vn_long_date(day: date) -> str:
    """Decree 30/2020: a leading zero only for days below 10 and the months 1 and 2."""
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


# --- DOCX ----------------------------------------------------------------------------------


def _run(paragraph: Any, text: str, *, bold: bool = False, italic: bool = False, size: float = 14) -> Any:
    run = paragraph.add_run(printable(text))
    run.bold, run.italic = bold, italic
    run.font.name, run.font.size = FONT, Pt(size)
    run._element.rPr.rFonts.set(qn("w:eastAsia"), FONT)  # so Word keeps Times New Roman for Vietnamese
    return run


def _para(
    container: Any,
    text: str = "",
    *,
    align: Any = None,
    bold: bool = False,
    italic: bool = False,
    size: float = 14,
    indent: bool = False,
) -> Any:
    paragraph = container.add_paragraph()
    if align is not None:
        paragraph.alignment = align
    paragraph.paragraph_format.space_after = Pt(3)
    if indent:  # body text: indented and justified
        paragraph.paragraph_format.first_line_indent = Mm(10)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    if text:
        _run(paragraph, text, bold=bold, italic=italic, size=size)
    return paragraph


def _rule(container: Any, length: float, width: float) -> None:
    """A centred solid line `length` mm long in a space `width` mm wide: the short rules under
    the issuing body, the national motto and the title (Decree 30/2020, appendix I)."""
    paragraph = container.add_paragraph()
    form = paragraph.paragraph_format
    form.space_before, form.space_after, form.line_spacing = Pt(0), Pt(0), Pt(2)
    form.left_indent = form.right_indent = Mm(max(0.0, (width - length) / 2))
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "6"), ("space", "1"), ("color", "auto")):
        bottom.set(qn(f"w:{key}"), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)


def _no_borders(table: Table) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    table._tbl.tblPr.append(borders)


def _cell(cell: Any, lines: list[tuple[str, dict[str, Any]]], align: Any = WD_ALIGN_PARAGRAPH.CENTER) -> None:
    cell.paragraphs[0].text = ""
    for index, (text, style) in enumerate(lines):
        paragraph = cell.paragraphs[0] if index == 0 else cell.add_paragraph()
        paragraph.alignment = align
        paragraph.paragraph_format.space_after = Pt(0)
        _run(paragraph, text, **style)


def _grid(document: Any, header: list[str], rows: list[list[str]], widths: list[float]) -> Table:
    """A bordered table: the header row, then one row per entry of `rows`. The first data row is
    made by python-docx with empty texts, and each row of `rows` is a copy of it given its texts:
    python-docx places every run property by a linear search among its allowed siblings (about
    1.3 ms a cell, 1.6 s for a province's 1,185 cells), where copying a row costs microseconds."""
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        _cell(cell, [(text, {"bold": True, "size": 12})])
    if rows:
        for i, cell in enumerate(table.add_row().cells):
            _cell(cell, [("", {"size": 12})], WD_ALIGN_PARAGRAPH.LEFT if i in (1, 2) else WD_ALIGN_PARAGRAPH.CENTER)
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = Mm(width)
    if rows:
        tbl = table._tbl
        template = tbl.tr_lst[-1]
        tbl.remove(template)
        for values in rows:
            tr = copy.deepcopy(template)
            for tc, text in zip(tr.tc_lst, values, strict=True):
                _fill(tc.p_lst[0].r_lst[-1], text)  # the cell's styled run (an empty one comes before it)
            tbl.append(tr)
    return table


def docx_bytes(report: PeriodicReport) -> bytes:
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = FONT, Pt(14)

    # Header: issuing body and number/symbol | national motto, place and date.
    header = document.add_table(rows=2, cols=2)
    _no_borders(header)
    _cell(header.cell(0, 0), report.issuer_lines)
    _rule(header.cell(0, 0), 22, 65)
    _cell(
        header.cell(0, 1),
        [
            ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", {"bold": True, "size": 13}),
            ("Độc lập - Tự do - Hạnh phúc", {"bold": True, "size": 14}),
        ],
    )
    _rule(header.cell(0, 1), 62, 100)  # as long as the motto
    _cell(header.cell(1, 0), [(f"Số: {report.number or '      /BC-UBND'}", {"size": 13})])
    _cell(header.cell(1, 1), [(f"{report.place}, {vn_long_date(report.issued_on)}", {"italic": True, "size": 14})])
    for row in header.rows:
        row.cells[0].width, row.cells[1].width = Mm(65), Mm(100)

    _para(document)
    _para(document, "BÁO CÁO", align=WD_ALIGN_PARAGRAPH.CENTER, bold=True)
    _para(document, report.title, align=WD_ALIGN_PARAGRAPH.CENTER, bold=True)
    _rule(document, 40, 165)
    _para(document)

    totals = report.totals
    _para(document, "I. TÌNH HÌNH BÁO CÁO CỦA CÁC ĐƠN VỊ", bold=True)
    _para(
        document,
        f"Trong {report.period.label_vi()}, các đơn vị phải báo cáo {totals['expected']} lượt nhiệm vụ; đã báo cáo "
        f"{totals['reported']} lượt (tỷ lệ đầy đủ {percent(totals['completeness'])}), trong đó đúng hạn "
        f"{totals['on_time']} lượt (tỷ lệ đúng hạn {percent(totals['timeliness'])}). Hoàn thành đúng hạn "
        f"{totals['states']['done_on_time']}, hoàn thành quá hạn {totals['states']['done_late']}, đang thực hiện "
        f"{totals['states']['in_progress']}, quá hạn {totals['states']['overdue']}.",
        indent=True,
    )
    _grid(
        document,
        ["STT", "Đơn vị", "Cấp", "Phải báo cáo", "Đã báo cáo", "Đúng hạn", "Tỷ lệ đầy đủ", "Tỷ lệ đúng hạn"],
        [
            [
                str(i),
                row["name"],
                LEVEL_LABELS.get(row["level"], row["level"]),
                str(row["expected"]),
                str(row["reported"]),
                str(row["on_time"]),
                percent(row["completeness"]),
                percent(row["timeliness"]),
            ]
            for i, row in enumerate(report.children, 1)
        ],
        [10, 45, 15, 20, 20, 18, 18, 19],
    )

    _para(document)
    _para(document, "II. KẾT QUẢ THỰC HIỆN CÁC NHIỆM VỤ", bold=True)
    _para(document, f"Tổng số sản phẩm tuyên truyền: {products(report.outputs) or 'chưa có'}.", indent=True)
    _grid(
        document,
        ["STT", "Nhiệm vụ", "Kế hoạch", "Phải báo cáo", "Đã báo cáo", "Đúng hạn", "Sản phẩm"],
        [
            [
                row["task_ref"],
                row["task_title"],
                row["plan_number"],
                str(row["expected"]),
                str(row["reported"]),
                str(row["on_time"]),
                products(row["outputs"]),
            ]
            for row in report.tasks
        ],
        [12, 55, 25, 18, 18, 17, 20],
    )
    if report.outputs_by_area:
        _para(document)
        _para(document, "Sản phẩm theo lĩnh vực:", italic=True)
        _body_lines(
            document,
            [
                f"- {CONTENT_AREAS.get(area, area or 'Chưa phân loại')}: {products(numbers)}."
                for area, numbers in sorted(report.outputs_by_area.items())
            ],
        )

    _para(document)
    _para(document, "III. ĐƠN VỊ CHẬM BÁO CÁO", bold=True)
    _quoted(
        document,
        [
            f"- {row['name']}: thiếu {row['missing']} báo cáo, chậm {row['days_late']} ngày "
            f"(hạn đầu tiên {_dmy(row['earliest_due'])})."
            for row in report.lagging
        ],
        more="đơn vị khác (chi tiết tại tệp Excel kèm theo, trang “Chậm báo cáo”)",
        none="Không có đơn vị chậm báo cáo.",
    )

    _para(document)
    _para(document, "IV. MÔ HÌNH HAY, CÁCH LÀM HIỆU QUẢ", bold=True)
    _quoted(
        document,
        [_quote(item) for item in report.highlights.get("good_models", [])],
        more="mô hình khác (chi tiết tại tệp Excel kèm theo, trang “Ý kiến”)",
        none="Chưa có đơn vị báo cáo mô hình hay.",
    )

    _para(document)
    _para(document, "V. KHÓ KHĂN, VƯỚNG MẮC VÀ KIẾN NGHỊ", bold=True)
    _quoted(
        document,
        [_quote(item) for item in report.highlights.get("cannot_do", []) + report.highlights.get("notes", [])],
        more="ý kiến khác (chi tiết tại tệp Excel kèm theo, trang “Ý kiến”)",
        none="Không có.",
    )

    _para(document)
    # Recipients | signature block.
    closing = document.add_table(rows=1, cols=2)
    _no_borders(closing)
    recipients = [("Nơi nhận:", {"bold": True, "italic": True, "size": 12})]
    recipients += [(f"- {name};", {"size": 11}) for name in _recipients(report)]
    recipients.append(("- Lưu: VT.", {"size": 11}))
    _cell(closing.cell(0, 0), recipients, WD_ALIGN_PARAGRAPH.LEFT)
    _cell(
        closing.cell(0, 1),
        [
            *((line, {"bold": True, "size": 14}) for line in report.signature),
            ("(Ký, ghi rõ họ tên, đóng dấu)", {"italic": True, "size": 12}),
            *(("", {}) for _ in range(4)),  # room for the signature and the seal
            (report.signer, {"bold": True, "size": 14}),
        ],
    )
    for row in closing.rows:
        row.cells[0].width, row.cells[1].width = Mm(80), Mm(85)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


QUOTED = 50  # lines a DOCX section quotes before pointing to the XLSX


def _quote(item: dict[str, Any]) -> str:
    return f"- {item['name']} ({item['task_title']}): {item['text']}"


def _quoted(document: Any, lines: list[str], *, more: str, none: str) -> None:
    """The first QUOTED lines of a section, then how many more there are: never cut silently."""
    shown = lines[:QUOTED]
    if len(lines) > QUOTED:
        shown.append(f"- Và {len(lines) - QUOTED} {more}.")
    _body_lines(document, shown or [none])


def _body_lines(document: Any, lines: list[str]) -> None:
    """One body paragraph (indented, justified) per line: the first made by `_para`, the others
    copies of it given their text, as `_grid` copies its rows."""
    if not lines:
        return
    last = _para(document, lines[0], indent=True)._p
    template = copy.deepcopy(last)
    template.r_lst[-1].text = ""
    for line in lines[1:]:
        paragraph = copy.deepcopy(template)
        _fill(paragraph.r_lst[-1], line)
        last.addnext(paragraph)
        last = paragraph


def _fill(run: Any, text: str) -> None:
    """Write `text` into a copied run that has none, as `add_run(text)` would: one <w:t>, or
    python-docx's own writer where a tab or a line break must become an element."""
    text = printable(text)
    if "\t" in text or "\n" in text or "\r" in text:
        run.text = text
    elif text:
        run.add_t(text)


def _recipients(report: PeriodicReport) -> list[str]:
    if report.parent_name:
        parent = report.parent_name[:1].lower() + report.parent_name[1:]  # "UBND tỉnh Gia Lai"
        return [f"UBND {parent} (để báo cáo)", "Các cơ quan, đơn vị liên quan"]
    return ["Bộ Nội vụ (để báo cáo)", "Thường trực Tỉnh ủy, HĐND tỉnh", "Các sở, ban, ngành; UBND các xã, phường"]


def _dmy(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%Y")


# --- XLSX ----------------------------------------------------------------------------------


def _sheet(title: str, caption: str, header: list[str], rows: list[list[Any]], total: list[Any]) -> Sheet:
    widths = [45.0 if name in ("Nhiệm vụ", "Đơn vị", "Nội dung") else 15.0 for name in header]
    return Sheet(title=title, caption=caption, header=header, rows=rows, total=total, widths=widths)


def xlsx_bytes(report: PeriodicReport) -> bytes:
    """The task table, the unit table, the lagging units and everything quoted, one sheet each
    (spreadsheet.py writes them)."""
    kinds = sorted(report.outputs)
    kind_labels = [PRODUCT_KINDS.get(kind, kind) for kind in kinds]
    totals = report.totals

    def rate(value: float | None) -> float | None:
        return None if value is None else round(value * 100, 2)

    by_task = _sheet(
        "Nhiệm vụ",
        f"{report.title} — {report.unit_name}",
        [
            "STT",
            "Kế hoạch",
            "Nhiệm vụ",
            "Lĩnh vực",
            "Phải báo cáo",
            "Đã báo cáo",
            "Đúng hạn",
            "Tỷ lệ đầy đủ (%)",
            "Tỷ lệ đúng hạn (%)",
            *kind_labels,
        ],
        [
            [
                row["task_ref"],
                row["plan_number"],
                row["task_title"],
                CONTENT_AREAS.get(row["area"] or "", ""),
                row["expected"],
                row["reported"],
                row["on_time"],
                rate(row["completeness"]),
                rate(row["timeliness"]),
                *(row["outputs"].get(k, 0) for k in kinds),
            ]
            for row in report.tasks
        ],
        [
            "",
            "",
            "Tổng cộng",
            "",
            totals["expected"],
            totals["reported"],
            totals["on_time"],
            rate(totals["completeness"]),
            rate(totals["timeliness"]),
            *(report.outputs.get(k, 0) for k in kinds),
        ],
    )
    own = {key: totals[key] - sum(row[key] for row in report.children) for key in ("expected", "reported", "on_time")}
    unit_rows = [
        [
            row["unit"],
            row["name"],
            LEVEL_LABELS.get(row["level"], row["level"]),
            row["expected"],
            row["reported"],
            row["on_time"],
            rate(row["completeness"]),
            rate(row["timeliness"]),
        ]
        for row in report.children
    ]
    if any(own.values()):  # the unit's own tasks, outside its children
        unit_rows.append(
            [
                report.unit,
                f"{report.unit_name} (trực tiếp)",
                LEVEL_LABELS.get(report.unit_level, ""),
                own["expected"],
                own["reported"],
                own["on_time"],
                None,
                None,
            ]
        )
    by_unit = _sheet(
        "Đơn vị",
        f"Tình hình báo cáo {report.period.label_vi()} — {report.unit_name}",
        ["Mã", "Đơn vị", "Cấp", "Phải báo cáo", "Đã báo cáo", "Đúng hạn", "Tỷ lệ đầy đủ (%)", "Tỷ lệ đúng hạn (%)"],
        unit_rows,
        [
            "",
            "Tổng cộng",
            "",
            totals["expected"],
            totals["reported"],
            totals["on_time"],
            rate(totals["completeness"]),
            rate(totals["timeliness"]),
        ],
    )
    lag_rows = [
        [row["unit"], row["name"], row["missing"], _dmy(row["earliest_due"]), row["days_late"]]
        for row in report.lagging
    ]
    late = _sheet(
        "Chậm báo cáo",
        f"Đơn vị chậm báo cáo đến {report.issued_on.strftime('%d/%m/%Y')}",
        ["Mã", "Đơn vị", "Số báo cáo còn thiếu", "Hạn đầu tiên", "Số ngày chậm"],
        lag_rows,
        ["", "Tổng cộng", sum(row["missing"] for row in report.lagging), "", ""],
    )
    kinds_vi = {"good_models": "Mô hình hay", "cannot_do": "Không thực hiện được", "notes": "Ghi chú, kiến nghị"}
    said = [
        [kinds_vi[kind], item["unit"], item["name"], item["task_ref"], item["task_title"], item["text"]]
        for kind in kinds_vi
        for item in report.highlights.get(kind, [])
    ]
    quoted = _sheet(
        "Ý kiến",
        f"Mô hình hay, khó khăn và kiến nghị — {report.unit_name}",
        ["Loại", "Mã", "Đơn vị", "STT", "Nhiệm vụ", "Nội dung"],
        said,
        ["", "", "Tổng cộng", "", "", len(said)],
    )
    return spreadsheet_bytes([by_task, by_unit, late, quoted])
