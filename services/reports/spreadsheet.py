"""The XLSX file of a report, written as SpreadsheetML text: a workbook of plain sheets, each a
caption, a bold header on a tinted fill (frozen), the rows and a bold total, every cell boxed
and wrapped in Times New Roman.

The parts are the ones openpyxl wrote for these sheets (same styles, widths, panes, inline
strings, numbers), written here in one pass: openpyxl spent ~50 µs on each cell (a Cell object,
its style looked up by hash, an lxml element), 8 s for the national report's 163,000 cells;
this takes a few µs. Strings are always text, never formulas ("=HYPERLINK(…)" an official typed
stays what was typed), and lose the characters XML cannot hold.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from openpyxl.utils import get_column_letter
from openpyxl.writer.theme import theme_xml  # Office's default theme, which the default font's colour names

from shared.text import printable

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
FONT = "Times New Roman"

# cellXfs below: 1 the caption, 2 the header, 3 a row, 4 the total
CAPTION, HEADER, ROW, TOTAL = 1, 2, 3, 4
STYLES = (
    f'<styleSheet xmlns="{MAIN}">'
    '<fonts count="4">'
    '<font><name val="Calibri"/><family val="2"/><color theme="1"/><sz val="11"/><scheme val="minor"/></font>'
    f'<font><name val="{FONT}"/><b val="1"/><sz val="13"/></font>'
    f'<font><name val="{FONT}"/><b val="1"/><sz val="12"/></font>'
    f'<font><name val="{FONT}"/><sz val="12"/></font>'
    "</fonts>"
    '<fills count="3"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="00DDE7F0"/></patternFill></fill></fills>'
    '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border><border>'
    + "".join(f'<{side} style="thin"><color rgb="00999999"/></{side}>' for side in ("left", "right", "top", "bottom"))
    + "</border></borders>"
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0"/>'
    + "".join(
        f'<xf numFmtId="0" fontId="{font}" fillId="{fill}" borderId="1" applyAlignment="1" xfId="0">'
        '<alignment vertical="top" wrapText="1"/></xf>'
        for font, fill in ((2, 2), (3, 0), (2, 0))  # header, row, total
    )
    + "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
SHEET_TOP = (
    f'<worksheet xmlns="{MAIN}"><sheetPr><outlinePr summaryBelow="1" summaryRight="1"/><pageSetUpPr/></sheetPr>'
    '<dimension ref="A1:{last}"/>'
    '<sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="2" topLeftCell="A3" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft" activeCell="A1" sqref="A1"/></sheetView></sheetViews>'
    '<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/><cols>{cols}</cols><sheetData>'
)
SHEET_END = (
    '</sheetData><pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/></worksheet>'
)
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
TEXT_ENTITIES = {"\r": "&#13;"}  # a carriage return kept as typed (a parser would drop a bare one)
MARKUP = re.compile("[&<>\r]")


@dataclass(frozen=True)
class Sheet:
    title: str  # at most 31 characters, as Excel wants
    caption: str
    header: list[str]
    rows: list[list[Any]]  # text, numbers or None, as many as the header
    total: list[Any]
    widths: list[float]  # of each column, in characters


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    buffer = io.BytesIO()
    # the fastest deflate: the national file is 1.06 MB instead of 0.87 MB at the default level,
    # in a quarter of the time (0.2 s instead of 0.6 s on a busy machine)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
        for name, text in _package_parts(sheets):
            package.writestr(name, DECLARATION + text)
        package.writestr("xl/theme/theme1.xml", theme_xml)
        for index, sheet in enumerate(sheets, 1):
            package.writestr(f"xl/worksheets/sheet{index}.xml", DECLARATION + _worksheet(sheet))
    return buffer.getvalue()


def _worksheet(sheet: Sheet) -> str:
    letters = [get_column_letter(i) for i in range(1, len(sheet.header) + 1)]
    cols = "".join(
        f'<col width="{width:g}" customWidth="1" min="{i}" max="{i}"/>' for i, width in enumerate(sheet.widths, 1)
    )
    last = len(sheet.rows) + 3
    parts = [
        SHEET_TOP.format(last=f"{letters[-1]}{last}", cols=cols),
        _row(1, [sheet.caption], letters[:1], CAPTION),
        _row(2, sheet.header, letters, HEADER),
    ]
    parts += [_row(n, values, letters, ROW) for n, values in enumerate(sheet.rows, 3)]
    parts += [_row(last, sheet.total, letters, TOTAL), SHEET_END]
    return "".join(parts)


def _row(n: int, values: list[Any], letters: list[str], style: int) -> str:
    cells = []
    for letter, value in zip(letters, values, strict=True):
        if isinstance(value, str):
            value = printable(value)
        if value is None or value == "":
            cells.append(f'<c r="{letter}{n}" s="{style}"/>')  # empty, still boxed
        elif isinstance(value, str):
            space = ' xml:space="preserve"' if value != value.strip() else ""
            text = escape(value, TEXT_ENTITIES) if MARKUP.search(value) else value  # most texts have none
            cells.append(f'<c r="{letter}{n}" s="{style}" t="inlineStr"><is><t{space}>{text}</t></is></c>')
        elif isinstance(value, int | float) and not isinstance(value, bool):
            cells.append(f'<c r="{letter}{n}" s="{style}" t="n"><v>{value!r}</v></c>')
        else:
            raise TypeError(f"a sheet cell holds text or a number, not {type(value).__name__}")
    return f'<row r="{n}">{"".join(cells)}</row>'


def _package_parts(sheets: Sequence[Sheet]) -> list[tuple[str, str]]:
    """Everything but the worksheets: content types, relationships, properties, workbook, styles."""
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    numbers = range(1, len(sheets) + 1)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    content_types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/theme/theme1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{sheet_type}"/>' for i in numbers)
        + '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>'
    )
    package_rels = (
        f'<Relationships xmlns="{RELS}">'
        f'<Relationship Type="{DOC_RELS}/officeDocument" Target="xl/workbook.xml" Id="rId1"/>'
        f'<Relationship Type="{RELS}/metadata/core-properties" Target="docProps/core.xml" Id="rId2"/>'
        f'<Relationship Type="{DOC_RELS}/extended-properties" Target="docProps/app.xml" Id="rId3"/>'
        "</Relationships>"
    )
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>CCHC</dc:creator>'
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified></cp:coreProperties>'
    )
    app = (
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        "<Application>Microsoft Excel Compatible</Application></Properties>"
    )
    workbook = (
        f'<workbook xmlns="{MAIN}" xmlns:r="{DOC_RELS}">'
        '<workbookPr/><bookViews><workbookView activeTab="0"/></bookViews><sheets>'
        + "".join(
            f'<sheet name={quoteattr(sheet.title)} sheetId="{i}" state="visible" r:id="rId{i}"/>'
            for i, sheet in enumerate(sheets, 1)
        )
        + '</sheets><calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
    )
    workbook_rels = (
        f'<Relationships xmlns="{RELS}">'
        + "".join(
            f'<Relationship Type="{DOC_RELS}/worksheet" Target="/xl/worksheets/sheet{i}.xml" Id="rId{i}"/>'
            for i in numbers
        )
        + f'<Relationship Type="{DOC_RELS}/styles" Target="styles.xml" Id="rId{len(sheets) + 1}"/>'
        + f'<Relationship Type="{DOC_RELS}/theme" Target="theme/theme1.xml" Id="rId{len(sheets) + 2}"/></Relationships>'
    )
    return [
        ("[Content_Types].xml", content_types),
        ("_rels/.rels", package_rels),
        ("docProps/app.xml", app),
        ("docProps/core.xml", core),
        ("xl/workbook.xml", workbook),
        ("xl/_rels/workbook.xml.rels", workbook_rels),
        ("xl/styles.xml", STYLES),
    ]
