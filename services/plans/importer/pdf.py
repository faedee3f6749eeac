"""PDF plans: each page in reading order, its text outside ruled tables as lines laid out with
spaces (`layout`), its ruled tables as rows of cells exactly as `read_docx` gives a Word table
(a task table's rows keep their cells; a table continued on the next page with the same columns
stays one table). A page with (almost) no text layer is a scan: rendered at 300 dpi and read by OCR
(`scan`). Encrypted, broken and over-long PDFs are refused with the reason, in Vietnamese."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import pdfplumber
import pypdfium2 as pdfium

from services.plans.importer.layout import Word, lay_out, rows_of
from services.plans.importer.lines import Line, UnreadableDocument, _clean, _is_task_table, read_text
from services.plans.importer.scan import Deadline, Progress, ReadLimits, read_page, too_many_pages

PDF_MAGIC = b"%PDF-"
MIN_TEXT = 20  # characters of text layer below which a page is a scan
RULED = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}
_Box = tuple[float, float, float, float]  # x0, top, x1, bottom


def is_pdf(content: bytes) -> bool:
    return PDF_MAGIC in content[:1024]  # the header may follow a few bytes of junk, as readers allow


@dataclass
class _Table:
    number: int
    columns: list[float]  # x of each column's left edge, to recognise the table on the next page
    rows: list[list[str]]
    tasks: bool


@dataclass
class _Pages:
    """What the pages gave so far: runs of text lines and tables, in reading order."""

    parts: list[list[str] | _Table] = field(default_factory=list)
    tables: int = 0

    def text(self, raws: list[str]) -> None:
        if raws and self.parts and isinstance(self.parts[-1], list):
            self.parts[-1].extend(raws)
        elif raws:
            self.parts.append(list(raws))

    def table(self, columns: list[float], rows: list[list[str]]) -> None:
        last = self.parts[-1] if self.parts else None
        if isinstance(last, _Table) and len(last.columns) == len(columns) and _same_edges(last.columns, columns):
            last.rows.extend(rows)  # continued from the page before (its header repeated or not)
            return
        self.tables += 1
        self.parts.append(_Table(self.tables, columns, rows, _is_task_table(rows[:2])))

    def lines(self) -> list[Line]:
        lines: list[Line] = []
        for part in self.parts:
            if isinstance(part, _Table):
                _table_lines(part, lines)
                continue
            for line in read_text("\n".join(part).encode("utf-8")):
                lines.append(Line(len(lines) + 1, line.text, cells=line.cells))
        return lines


def _same_edges(a: list[float], b: list[float]) -> bool:
    return all(abs(x - y) <= 3 for x, y in zip(a, b, strict=True))


def _table_lines(table: _Table, lines: list[Line]) -> None:
    """As `read_docx` gives a table: a task table's rows with their cells; any other table as the
    text of each cell, a cell merged over several grid places once."""
    if table.tasks:
        for row in table.rows:
            cells = ["\n".join(filter(None, map(_clean, text.split("\n")))) for text in row]
            lines.append(Line(len(lines) + 1, " ".join(c for c in cells if c), cells=cells, table=table.number))
        return
    seen: set[str] = set()
    for cells in table.rows:
        for text in cells:
            if text in seen:
                continue
            seen.add(text)
            for part in text.split("\n"):
                lines.append(Line(len(lines) + 1, _clean(part)))


def read_pdf(content: bytes, limits: ReadLimits, progress: Progress | None = None) -> list[Line]:
    pdf = _open(content)
    with pdf:
        count = len(pdf.pages)
        if count > limits.max_pages:
            raise too_many_pages(count, limits)
        if count == 0:
            raise UnreadableDocument("tệp PDF không có trang nào")
        pages = _Pages()
        deadline: Deadline | None = None
        for index, page in enumerate(pdf.pages):
            try:
                chars = sum(not c["text"].isspace() for c in page.chars)
                if chars >= MIN_TEXT:
                    _read_text_page(page, pages)
                    continue
            except UnreadableDocument:
                raise
            except Exception as exc:  # pdfminer's parse errors on a damaged page: types of its own
                raise _broken(exc) from None
            deadline = deadline or Deadline(limits.ocr_seconds)
            if progress:
                progress(index + 1, count)
            pages.text(read_page(_render(content, index, limits), deadline) + [""])
        return pages.lines()


def _open(content: bytes) -> Any:
    try:
        pdf = pdfplumber.open(io.BytesIO(content))
        _ = pdf.pages  # the page tree: a truncated file fails here
    except Exception as exc:  # pdfminer raises its own types (PDFSyntaxError, PSEOF …), wrapped or not
        raise _broken(exc) from None
    return pdf


def _broken(exc: Exception) -> UnreadableDocument:
    causes = f"{type(exc).__name__} {exc} {type(exc.__cause__).__name__} {exc.__context__!r}".lower()
    if "password" in causes or "encrypt" in causes:
        return UnreadableDocument(
            "tệp PDF được đặt mật khẩu, không đọc được; hãy gỡ mật khẩu (in lại thành PDF) rồi tải lên lại"
        )
    return UnreadableDocument("tệp PDF bị hỏng hoặc không trọn vẹn, không đọc được; hãy xuất lại tệp PDF")


def _render(content: bytes, index: int, limits: ReadLimits) -> Any:
    """The page as an image at 300 dpi, or less when that would pass the pixel limit (a page drawn
    kilometres wide is not rendered at full size)."""
    try:
        document = pdfium.PdfDocument(content)
        page = document[index]
        width, height = page.get_size()
        scale = min(300 / 72, math.sqrt(limits.max_pixels / max(width * height, 1.0)))
        return page.render(scale=scale).to_pil()
    except pdfium.PdfiumError as exc:
        raise _broken(exc) from None


def _read_text_page(page: Any, pages: _Pages) -> None:
    tables = [t for t in page.find_tables(RULED) if len(t.cells) >= 2]
    boxes = [t.bbox for t in tables]
    words = [
        Word(w["text"], w["x0"], w["top"], w["x1"], w["bottom"])
        for w in page.extract_words(keep_blank_chars=False)
        if not any(_inside(w, box) for box in boxes)
    ]
    left = min((w.x0 for w in words), default=0.0)
    right = max((w.x1 for w in words), default=0.0)
    for table in sorted(tables, key=lambda t: t.bbox[1]):
        above = [w for w in words if w.middle < table.bbox[1]]
        words = [w for w in words if w.middle >= table.bbox[1]]
        pages.text(lay_out(above, left=left, right=right))
        columns, rows = _grid(page, table)
        pages.table(columns, rows)
    pages.text(lay_out(words, left=left, right=right))


def _inside(word: dict[str, Any], box: _Box) -> bool:
    x = (word["x0"] + word["x1"]) / 2
    y = (word["top"] + word["bottom"]) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _grid(page: Any, table: Any) -> tuple[list[float], list[list[str]]]:
    """The table as the text of the cell at each place of its grid, as a Word table's grid: a cell
    merged across columns or down rows is repeated at every place it covers."""
    cells: list[_Box] = table.cells
    xs = sorted({round(c[0], 1) for c in cells} | {round(c[2], 1) for c in cells})
    ys = sorted({round(c[1], 1) for c in cells} | {round(c[3], 1) for c in cells})
    texts: dict[_Box, str] = {}
    rows: list[list[str]] = []
    for top, bottom in zip(ys, ys[1:], strict=False):
        row = []
        for x0, x1 in zip(xs, xs[1:], strict=False):
            x, y = (x0 + x1) / 2, (top + bottom) / 2
            cell = next((c for c in cells if c[0] <= x <= c[2] and c[1] <= y <= c[3]), None)
            if cell is None:
                row.append("")
                continue
            if cell not in texts:
                texts[cell] = _cell_text(page, cell)
            row.append(texts[cell])
        if any(row):
            rows.append(row)
    return xs[:-1], rows


def _cell_text(page: Any, box: _Box) -> str:
    """The cell's text, its lines wrapped by the cell's width joined with a space and its own line
    breaks kept ('\\n', as between the paragraphs of a Word cell): a line ended early, where the
    next line's first word would have fitted, was ended on purpose."""
    words = [
        Word(w["text"], w["x0"], w["top"], w["x1"], w["bottom"])
        for w in page.within_bbox(box, relative=False, strict=False).extract_words()
    ]
    rows = rows_of(words)
    if not rows:
        return ""
    padding = max(min(w.x0 for w in words) - box[0], 1.0)
    right = box[2] - padding
    text = " ".join(w.text for w in rows[0])
    for before, row in zip(rows, rows[1:], strict=False):
        space = (row[0].bottom - row[0].top) * 0.3
        fits = before[-1].x1 + space + (row[0].x1 - row[0].x0) <= right
        text += ("\n" if fits else " ") + " ".join(w.text for w in row)
    return text
