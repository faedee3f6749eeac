"""Plans as PDFs and scans, made at test time from the fixture plans: a .docx fixture typeset by
reportlab (DejaVu Sans, Vietnamese) with its task table as a real ruled table, as a Word file
printed to PDF is; then rasterised as a scanner would give it (grey noise, a red round stamp over
the signature, a tilt of about a degree), as an image-only PDF, a PNG or a multi-page TIFF."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pdfplumber
import pypdfium2 as pdfium
from docx import Document
from docx.table import Table as DocxTable
from docx.table import _Cell
from docx.text.paragraph import Paragraph as DocxParagraph
from PIL import Image, ImageChops, ImageDraw, ImageFilter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.plans.importer.lines import _is_task_table, grid_rows

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core


def _font() -> str:
    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONT)))
    return "DejaVuSans"


def typeset(docx: bytes, *, size: float = 10, repeat_header: bool = True, rulings: bool = True) -> bytes:
    """A Word plan as a PDF with a text layer: its paragraphs, its task tables as ruled tables (a
    cell merged across a row drawn as one cell, the header rows repeated on each page; without
    `rulings`, laid out the same with no lines drawn, as many offices print them) and its other
    tables (the two-column header block) without rulings."""
    font = _font()
    text = ParagraphStyle("text", fontName=font, fontSize=size, leading=size * 1.3, spaceAfter=2)
    small = ParagraphStyle("cell", fontName=font, fontSize=size - 1.5, leading=(size - 1.5) * 1.25)
    story: list[Any] = []
    document = Document(io.BytesIO(docx))
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            said = DocxParagraph(element, document).text.replace("\t", "\n")
            for part in said.split("\n"):
                story.append(Paragraph(escape(part), text) if part.strip() else Spacer(1, size * 1.3))
        elif tag == "tbl":
            table = DocxTable(element, document)
            rows = [[_Cell(tc, table).text for tc in row] for row in grid_rows(element)]
            tasks = _is_task_table(rows[:2])
            story.append(_table(rows, small if tasks else text, ruled=tasks, repeat_header=repeat_header, grid=rulings))
            story.append(Spacer(1, size))
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=1.8 * cm, rightMargin=1.5 * cm, topMargin=1.5 * cm)
    pdf.build(story)
    return buffer.getvalue()


def _table(
    rows: list[list[str]], style: ParagraphStyle, *, ruled: bool, repeat_header: bool = True, grid: bool = True
) -> Table:
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    commands: list[tuple[Any, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP")]
    if ruled and grid:
        commands.append(("GRID", (0, 0), (-1, -1), 0.6, colors.black))
    data: list[list[Any]] = []
    for r, row in enumerate(rows):
        cells: list[Any] = []
        c = 0
        while c < width:
            end = c
            while end + 1 < width and row[end + 1] == row[c] and row[c]:
                end += 1
            cells.append(Paragraph(escape(row[c]).replace("\n", "<br/>"), style))
            cells += [""] * (end - c)
            if end > c:
                commands.append(("SPAN", (c, r), (end, r)))
            c = end + 1
        data.append(cells)
    total = A4[0] - 3.3 * cm
    if ruled:  # the number column narrow, the task's title wide, the others shared
        weights = [0.6 if _is_number_column(rows, c) else (2.4 if c == 1 else 1.2) for c in range(width)]
    else:
        weights = [1.0] * width
    widths = [total * w / sum(weights) for w in weights]
    header = next((r for r, row in enumerate(rows) if row_number_like(row[0])), 1) if ruled else 0
    table = Table(data, colWidths=widths, repeatRows=header if repeat_header else 0)
    table.setStyle(TableStyle(commands))
    return table


def row_number_like(text: str) -> bool:
    return text.strip().rstrip(".").replace(".", "").isdigit() or text.strip() in ("I", "A")


def _is_number_column(rows: list[list[str]], column: int) -> bool:
    values = [row[column] for row in rows[1:] if column < len(row)]
    return sum(len(v) <= 4 for v in values) >= len(values) * 0.7


def pdf_of(docx: Path, *, repeat_header: bool = True, rulings: bool = True) -> bytes:
    return typeset(docx.read_bytes(), repeat_header=repeat_header, rulings=rulings)


def mixed(text_pdf: bytes, scanned_pdf: bytes, *, scanned_pages: list[int]) -> bytes:
    """The text PDF with some of its pages replaced by the scan's (a signed page scanned back in)."""
    text, scan = pdfium.PdfDocument(text_pdf), pdfium.PdfDocument(scanned_pdf)
    result = pdfium.PdfDocument.new()
    for index in range(len(text)):
        result.import_pages(scan if index in scanned_pages else text, [index])
    buffer = io.BytesIO()
    result.save(buffer)
    return buffer.getvalue()


def page_images(pdf: bytes, *, dpi: int = 300) -> list[Image.Image]:
    document = pdfium.PdfDocument(pdf)
    return [document[i].render(scale=dpi / 72).to_pil().convert("RGB") for i in range(len(document))]


def signature_spot(pdf: bytes) -> tuple[int, float, float] | None:
    """Where a stamp goes: the page of the signer's title (the last "CHỦ TỊCH") and a point a
    little under its start, as fractions of the page's width and height."""
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        spot = None
        for index, page in enumerate(document.pages):
            for found in page.search("CHỦ TỊCH"):
                spot = (index, (found["x0"] + 10) / page.width, (found["bottom"] + 25) / page.height)
        return spot


def scanned(
    image: Image.Image, *, angle: float = 1.0, stamp: tuple[float, float] | None = None, seed: int = 7
) -> Image.Image:
    """The page as a scanner gives it: a red round stamp at `stamp` (fractions of the page; its ink
    multiplies with what is under it, as ink does), grey speckle, a slight blur, tilted by `angle`
    degrees."""
    rng = random.Random(seed)
    page = image.copy()
    if stamp:
        width, height = page.size
        x, y, r = int(width * stamp[0]), int(height * stamp[1]), int(width * 0.09)
        layer = Image.new("RGB", page.size, "white")
        ink = ImageDraw.Draw(layer)
        for ring in (0, 14):
            ink.ellipse((x - r + ring, y - r + ring, x + r - ring, y + r - ring), outline=(200, 30, 40), width=7)
        ink.ellipse((x - r // 5, y - r // 5, x + r // 5, y + r // 5), fill=(200, 30, 40))
        ink.text((x - r + 30, y - 12), "UY BAN NHAN DAN", fill=(200, 30, 40))
        page = ImageChops.multiply(page, layer)
    draw = ImageDraw.Draw(page)
    for _ in range(page.size[0] * page.size[1] // 2000):
        px, py = rng.randrange(page.size[0]), rng.randrange(page.size[1])
        shade = rng.randrange(90, 200)
        draw.point((px, py), fill=(shade, shade, shade))
    page = page.filter(ImageFilter.GaussianBlur(0.6))
    return page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))


def scan_of(pdf: bytes) -> list[Image.Image]:
    """Every page of the PDF scanned: tilted by about a degree, either way, the signature stamped."""
    spot = signature_spot(pdf)
    return [
        scanned(page, angle=(1.0, -0.8, 0.9)[i % 3], stamp=spot[1:] if spot and spot[0] == i else None, seed=i)
        for i, page in enumerate(page_images(pdf))
    ]


def image_pdf(pages: list[Image.Image], *, dpi: int = 300) -> bytes:
    """Pages as a PDF of images only (no text layer), as a scanner saves them."""
    buffer = io.BytesIO()
    pages[0].save(buffer, "PDF", resolution=dpi, save_all=True, append_images=pages[1:])
    return buffer.getvalue()


def png(page: Image.Image) -> bytes:
    buffer = io.BytesIO()
    page.save(buffer, "PNG", dpi=(300, 300))
    return buffer.getvalue()


def tiff(pages: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:], compression="tiff_lzw")
    return buffer.getvalue()
