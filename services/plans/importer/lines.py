"""A plan document as numbered lines: paragraphs and table rows of a .docx in body order, or the
lines of a text file (tab-separated rows are table rows), cleaned of what scanning and OCR put
into them (page numbers, signature stamps, letters for digits, sentences broken across lines).
"""

from __future__ import annotations

import bisect
import functools
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from docx import Document
from docx.oxml.table import CT_Tbl, CT_Tc
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from rapidfuzz import fuzz

from services.plans.importer.vocabulary import opens_basis, repaired
from shared.text import normalize


@dataclass
class Line:
    no: int  # 1-based: the line of the text file, or the paragraph / table row of the .docx
    text: str
    cells: list[str] | None = None  # a table row
    table: int | None = None  # which .docx table (rows of one table belong together)
    norm: str = field(init=False)

    def __post_init__(self) -> None:
        self.norm = normalize(self.text)


@dataclass
class ParseWarning:
    line: int | None
    message: str


@dataclass
class Notes:
    """Warnings collected while reading, with the line they are about."""

    items: list[ParseWarning] = field(default_factory=list)

    def add(self, line: Line | int | None, message: str) -> None:
        number = line.no if isinstance(line, Line) else line
        self.items.append(ParseWarning(number, message))


class UnreadableDocument(ValueError):
    """Not a .docx or UTF-8 text we can read; the message says why, in Vietnamese."""


def fold(text: str) -> str:
    """Lower case without diacritics, character for character (same length as `text`), so a
    match found in the folded text can be cut out of the original with its diacritics."""
    return "".join(map(_fold_char, text))


@functools.lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    base = unicodedata.normalize("NFD", ch.replace("đ", "d").replace("Đ", "D"))[0]
    return base.lower() if len(base.lower()) == 1 else ch


# Letters OCR reads for digits, inside tokens that hold at least one real digit: "1O" → "10",
# "2O25" → "2025", "O3/2026" → "03/2026". Roman numerals alone ("quy Il") have no digit: left.
_DIGITISH = re.compile(r"(?<![\wÀ-ỹ|])(?=[0-9OoIl|]*[0-9])[0-9OoIl|]+(?![\wÀ-ỹ|])")
_LIST_MARK = re.compile(r"^(?:[-+•*](?:\s|$)|\d{1,2}(?:\.\d{1,2})*[.)]?\s|[a-zđ]\)\s|[IVXLl]{1,5}\s*[.)]\s)")
# A line that opens with a label of a task's facts ("Cơ quan chủ trì: …") starts a line of its own.
_LABELLED = re.compile(r"^(?:co quan|don vi|thoi gian|thoi han|san pham|ket qua|chu tri|phoi hop|tham muu)[^:]{0,30}:")
# Lines of the header block that are complete however they end: the national motto ("Độc lập - Tự
# do - Hạnh phúc", also damaged) and the number line ("Số: 21/KH-UBND"); the place and date below
# them are no continuation, though a text copy has no blank line between.
_MOTTO = re.compile(
    r"\bd\S{0,2}c\s*l\S{0,2}p\b.{0,12}\bh\S{0,2}nh\s*ph\S{0,3}c\s*$|\bhanh\s*phuc\s*$|\bhan\S?\s*phuc\s*$"
)
_NUMBER_LINE = re.compile(r"^(?:s\S{0,2}|[o6])\s*[:;.]\s*[0-9oil]*\s*/\s*[\w.-]+$")  # also "ố: 12/KH-UBND"
# A sentence of the basis opens a line of its own ("Căn cứ …", "Thực hiện …", "Theo đề nghị …").
_OPENINGS = ("thuc hien", "can cu", "theo de nghi")
_RULE = re.compile(r"\s*[_=~*─━═]{3,}\s*|^\s*[-–—]{3,}\s*$")
_PAGE_NUMBER = re.compile(r"^[-–—\s]*(?:trang\s*)?\d{1,3}(?:\s*/\s*\d{1,3})?[-–—\s]*$", re.IGNORECASE)
# What a signature stamp or a digital signature adds to the text.
_STAMP = re.compile(
    r"^\(?(da ky|ky boi|ky so|nguoi ky|thoi gian ky|ngay ky|signature valid|signed by)\b.*$|^\(?da ky\)?$"
)
_SIGNATURE_TITLES = {
    "tm. uy ban nhan dan",
    "tm uy ban nhan dan",
    "chu tich",
    "kt. chu tich",
    "kt chu tich",
    "pho chu tich",
}


def _digits(text: str) -> str:
    return _DIGITISH.sub(lambda m: m.group(0).translate(str.maketrans("OoIl|", "00111")), text)


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ").replace("\u200b", "").replace("*", "")
    text = _fold_eth(text)  # "Ðơn vị" with the Icelandic Ð some fonts and OCR give for Đ
    return _digits(re.sub(r"\s+", " ", text).strip())  # every kind of space: no long runs for the regexes


def read_text(content: bytes) -> list[Line]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableDocument("tệp văn bản không phải UTF-8") from None
    lines = []
    raws = [raw.rstrip("\r") for raw in text.split("\n")]  # not splitlines(): a form feed is no new line
    laid_out = space_laid_rows(raws)
    for no, raw in enumerate(raws, 1):
        if no - 1 in laid_out:
            cells = [_clean(cell) for cell in laid_out[no - 1]]
            lines.append(Line(no, " ".join(c for c in cells if c), cells=cells))
            continue
        if "\t" in raw.strip(" "):
            cells = [_clean(cell) for cell in raw.split("\t")]
            while cells and not cells[-1]:
                cells.pop()
            if len(cells) >= 2 or (cells and raw.count("\t") >= 2):  # a row whose other cells are empty
                lines.append(Line(no, " ".join(c for c in cells if c), cells=cells))
                continue
        # Two columns laid out with spaces (the header of a scanned page): one line each.
        for part in re.split(r"\s{6,}", raw.strip()) or [""]:
            lines.append(Line(no, _clean(part)))
    return lines


HEADER_WORDS = ("nhiem vu", "chu tri", "phoi hop", "thoi gian", "san pham", "ket qua", "noi dung")
_CHUNK = re.compile(r"\S+(?: \S+)*")  # text runs separated by two spaces or more


def _header_starts(raw: str) -> list[int] | None:
    """Where the columns of a table laid out with spaces begin, if `raw` is its header row."""
    if raw.count("  ") < 3:  # fewer than four runs of text: no header row (the common case, cheaply)
        return None
    chunks = list(_CHUNK.finditer(raw))
    if len(chunks) < 4:
        return None
    # a header cell's words as written, or read back from OCR damage ("Thoi gan thyc hien")
    hits = sum(
        any(word in text for word in HEADER_WORDS for text in (normalize(c.group()), repaired(c.group())))
        for c in chunks
    )
    return [c.start() for c in chunks] if len(chunks) >= 4 and hits >= 3 else None


def space_laid_rows(raws: list[str]) -> dict[int, list[str]]:
    """Rows of tables laid out with spaces (`pdftotext -layout`, an OCR keeping the layout): each
    line cut into the header's columns, a text run going to the column it starts in. Lines
    under the header up to the first numbered row complete the header; a line of text that
    starts left of the second column and is no row number ends the table."""
    rows: dict[int, list[str]] = {}
    starts: list[int] | None = None
    numbered = False
    for index, raw in enumerate(raws):
        if "\t" in raw:  # tab-separated rows are read as such
            starts = None
            continue
        header = _header_starts(raw)
        if header is not None:
            starts, numbered = header, False
            rows[index] = [c.group() for c in _CHUNK.finditer(raw)]
            continue
        if starts is None or not raw.strip() or _PAGE_NUMBER.match(raw.strip()):
            continue
        parts: list[list[str]] = [[] for _ in starts]
        for chunk in _CHUNK.finditer(raw):
            # the last column starting at or before the run (starts ascend): a bisection, so that a
            # line of many runs under a header of many columns costs runs × log(columns), not ×
            column = max(bisect.bisect_right(starts, chunk.start() + 1) - 1, 0)
            parts[column].append(chunk.group())
        cells = [" ".join(texts) for texts in parts]
        first = next(_CHUNK.finditer(raw))
        if first.start() < starts[1] - 1 and row_number(cells[0]) is None:
            starts = None  # text across the page: the table is over
            continue
        if row_number(cells[0]) is not None:
            numbered = True
        rows[index] = cells if numbered else [""] * len(starts)  # the header's second line: read, dropped
    return rows


def _fold_eth(text: str) -> str:
    return text.replace("Ð", "Đ").replace("ð", "đ")


MAX_GRID_SPAN = 64  # a cell spread over more grid columns is read as spread over this many


def grid_rows(tbl: CT_Tbl) -> Iterator[list[CT_Tc]]:
    """Each row of a Word table as the cell of each grid column it fills: a cell spread across
    columns (gridSpan) once per column, a cell merged down (vMerge) as the cell it continues.
    python-docx's `row.cells` finds that cell by walking up row by row, each step searching the
    table (quadratic and deeper in the length of a merge, and a RecursionError past ~1,000 rows):
    here the cell on top of each grid column is remembered, so a table is read in one pass."""
    top: dict[int, CT_Tc] = {}  # grid column → the cell a merge down that column continues
    for tr in tbl.tr_lst:
        offset = min(tr.grid_before, MAX_GRID_SPAN)
        row: list[CT_Tc] = []
        for tc in tr.tc_lst:
            span = max(1, min(tc.grid_span, MAX_GRID_SPAN))
            cell = top.get(offset, tc) if tc.vMerge == "continue" else tc
            top[offset] = cell
            row += [cell] * span
            offset += span
        yield row


def _is_task_table(rows: list[list[str]]) -> bool:
    """A table whose first rows name several task columns (STT, Nhiệm vụ, chủ trì …); the
    others (the header block of the first page, the signature block) are read as text."""
    for texts in rows[:2]:
        words = [normalize(text) for text in texts]
        if sum(any(w in text for w in HEADER_WORDS) for text in words) >= 3:
            return True
    return False


def read_docx(content: bytes) -> list[Line]:
    try:
        document = Document(io.BytesIO(content))
    except Exception as exc:  # python-docx raises zip, XML and key errors alike
        raise UnreadableDocument(f"không mở được tệp Word (.docx): {exc}") from None
    lines: list[Line] = []
    tables = 0
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":  # a soft line break or tab stops (a header laid out with tabs) part lines
            for part in re.split(r"\n|\t+", Paragraph(element, document).text):
                lines.append(Line(len(lines) + 1, _clean(part)))
        elif tag == "tbl":
            tables += 1
            _read_table(Table(element, document), tables, lines)
    return lines


def _read_table(table: Table, number: int, lines: list[Line]) -> None:
    """A task table as rows of cells; any other table as the text of each cell, a merged one once."""
    grid = list(grid_rows(table._tbl))
    texts: dict[int, str] = {}  # each cell's text once (by id: the cells stay alive in `grid`)

    def text_of(tc: CT_Tc) -> str:
        if id(tc) not in texts:
            texts[id(tc)] = _Cell(tc, table).text
        return texts[id(tc)]

    if _is_task_table([[text_of(tc) for tc in row] for row in grid[:2]]):
        for row in grid:
            cells = ["\n".join(filter(None, map(_clean, text_of(tc).split("\n")))) for tc in row]
            lines.append(Line(len(lines) + 1, " ".join(c for c in cells if c), cells=cells, table=number))
        return
    seen: set[int] = set()  # a merged cell once (ids are unique while `grid` holds the cells)
    for row in grid:
        for tc in row:
            if id(tc) in seen:
                continue
            seen.add(id(tc))
            for paragraph in _Cell(tc, table).paragraphs:
                lines.append(Line(len(lines) + 1, _clean(paragraph.text)))


def tidy(lines: list[Line], *, wrapped: bool = False) -> list[Line]:
    """Drop page numbers and signature stamps; join a sentence broken across lines: a line that
    starts in lower case continues the text before it, also across blank lines; in `wrapped`
    text (a PDF's lines), so does the very next line when the one before ends mid-sentence."""
    kept: list[Line] = []
    pieces: list[str] = []  # the text of kept[-1], joined once it is complete (linear, not quadratic)
    joinable = False  # kept[-1] is text that may go on (no table row, no signature title)
    after_stamp = False
    tail = 0  # the last physical line in kept[-1]

    def close() -> None:
        if kept and len(pieces) > 1:
            kept[-1].text = " ".join(pieces)
            kept[-1].norm = normalize(kept[-1].text)

    for line in lines:
        if line.cells is not None:
            close()
            kept.append(line)
            pieces, joinable, after_stamp = [], False, False
            continue
        line.text = without_stamp_words(_RULE.sub("", line.text).strip())  # "______" drawn under a title
        if not line.text or _PAGE_NUMBER.match(line.text):
            continue
        if _STAMP.match(line.norm.rstrip(" .:")):
            after_stamp = True
            continue
        if after_stamp and looks_like_a_name(line.text) and not (kept and is_signature_title(kept[-1])):
            continue  # the signer's name under a stamp in the middle of the text (not under the signature)
        after_stamp = False
        last = pieces[-1] if pieces else ""
        # "l. Phòng Nội vụ" is item 1 (its digit read as a letter), not a sentence going on
        continues = (
            line.text[0].islower() and not _LIST_MARK.match(line.text) and not _NUMBER_LINE.match(normalize(line.text))
        ) or last.endswith(("-", "–"))
        if wrapped and line.no == tail + 1:
            continues = continues or (
                not last.endswith((".", ":", ";", "!", "?", "./."))
                and not _LIST_MARK.match(line.text)
                and not _LABELLED.match(line.norm)
                and not (line.text[0].isupper() and opens_basis(line.text, _OPENINGS))
                and not last.isupper()
                and not line.text.isupper()
            )
        complete = _MOTTO.search(normalize(last)) or _NUMBER_LINE.match(normalize(last))
        if joinable and continues and not last.endswith(":") and not complete:
            pieces.append(line.text)
            tail = line.no
            continue
        close()
        kept.append(Line(line.no, line.text))
        pieces, tail = [line.text], line.no
        joinable = not is_signature_title(kept[-1])
    close()
    return kept


STAMP_WORDS = ("uy ban nhan dan", "chu tich", "da ky", "pho chu tich")


def without_stamp_words(text: str) -> str:
    """A line of running text with a stamp's words in capitals inside it ("Yên CHỦ TỊCH Lộc, ngày
    …", "… Lý Sơn, ỦY BAN NHÂN DÂN"), also damaged, without them; a line in capitals (a heading,
    the header block) is left as it is."""
    words = text.split(" ")
    if not any(any(ch.islower() for ch in w) for w in words):
        return text
    kept: list[str] = []
    index = 0
    while index < len(words):
        for size in (4, 3, 2):
            run = words[index : index + size]
            if len(run) == size and all(w.strip(",.;").isupper() for w in run):
                folded = normalize(" ".join(run)).strip(",.; ")
                if any(fuzz.ratio(folded, stamp) >= 80 for stamp in STAMP_WORDS if len(stamp.split()) == size):
                    if run[-1].endswith(",") and kept:
                        kept[-1] += "," if not kept[-1].endswith(",") else ""
                    index += size
                    break
        else:
            kept.append(words[index])
            index += 1
    return " ".join(kept).strip(" ,") if len(kept) < len(words) else text


def looks_like_a_name(text: str) -> bool:
    """'Vũ Trọng Tuyên': two to five capitalised words, no digits or punctuation."""
    words = text.split()
    return 2 <= len(words) <= 5 and all(w[0].isupper() for w in words) and not re.search(r"[\d:;,.]", text)


def is_signature_title(line: Line) -> bool:
    return line.norm.rstrip(" .") in _SIGNATURE_TITLES


_ROW_NUMBER = re.compile(r"^(?P<ref>\d{1,3}(?:\.\d{1,2})*)\.?$")


def row_number(text: str) -> str | None:
    """'4.1', '4,2' (OCR), '1O' → '10'; a roman numeral ('I', 'II.') or a capital letter ('A')
    heads a group of tasks."""
    heading = re.fullmatch(r"(?P<r>[IVX]{1,4}|[A-H])\.?", text.strip())
    if heading:
        return heading["r"]
    # digits as OCR misreads them: 1 as l or |, 0 as O, 5 as S (no group is lettered S)
    text = text.strip().replace(",", ".").replace("l", "1").replace("|", "1").replace("O", "0").replace("S", "5")
    if re.fullmatch(r"\d{1,3}(?:\.[\dI]{1,2})+\.?", text):  # "4.I": a sub-item's 1 read as a capital I
        text = text.replace("I", "1")
    match = _ROW_NUMBER.match(text)
    return match["ref"] if match else None


def is_roman(ref: str) -> bool:
    """A group heading numbered with a roman numeral or a letter."""
    return bool(re.fullmatch(r"[IVX]+|[A-H]", ref))
