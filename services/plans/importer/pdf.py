"""PDF plans: each page in reading order, its text outside ruled tables as lines laid out with
spaces (`layout`), its ruled tables as rows of cells exactly as `read_docx` gives a Word table
(a task table's rows keep their cells; a table continued on the next page with the same columns
stays one table). A page with (almost) no text layer is a scan: rendered at 300 dpi and read by OCR
(`scan`). Encrypted, broken and over-long PDFs are refused with the reason, in Vietnamese."""

from __future__ import annotations

import io
import math
from typing import Any

import pdfplumber
import pypdfium2 as pdfium

from services.plans.importer.layout import Word
from services.plans.importer.lines import Line, UnreadableDocument
from services.plans.importer.pages import Pages
from services.plans.importer.scan import Deadline, Progress, ReadLimits, read_page, too_many_pages

MIN_TEXT = 20  # characters of text layer below which a page is a scan
RULED = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}


def read_pdf(content: bytes, limits: ReadLimits, progress: Progress | None = None) -> list[Line]:
    pdf = _open(content)
    with pdf:
        count = len(pdf.pages)
        if count > limits.max_pages:
            raise too_many_pages(count, limits)
        if count == 0:
            raise UnreadableDocument("tệp PDF không có trang nào")
        pages = Pages()
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
            read_page(_render(content, index, limits), deadline, pages)
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


def _read_text_page(page: Any, pages: Pages) -> None:
    words = [Word(w["text"], w["x0"], w["top"], w["x1"], w["bottom"]) for w in page.extract_words()]
    tables = [t.cells for t in page.find_tables(RULED) if len(t.cells) >= 2]
    pages.page(words, tables, width=float(page.width))
