"""Appendix tables of tasks: columns in any order, known by their headers (STT/TT, Nhiệm vụ,
chủ trì, phối hợp, Thời gian, Kết quả/Sản phẩm); group rows (4 over 4.1, 4.2; I, II; A, B);
rows continued across page breaks; the header repeated; numbers written in the title cell."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from services.plans.importer.lines import Line, Notes, row_number
from services.plans.importer.vocabulary import label_column, repaired, skeleton
from shared.text import normalize

# A numbered item: "1. Tuyên truyền …", "3.1 …", "Nhiệm vụ 2: …" (in a title cell or a list).
NUMBERED = re.compile(r"^(?:nhiệm vụ\s+|nhiem vu\s+)?(?P<ref>\d{1,2}(?:\.\d{1,2})*)[.):]?\s+(?P<title>\S.*)$", re.I)
# "Nhiem u 3: …", "Nhiệ vụ 5: …": the words before the number damaged, the colon kept.
_NUMBERED_DAMAGED = re.compile(r"^(?P<words>\w{1,6}\s+\w{0,3})\s*(?P<ref>\d{1,2})\s*:\s*(?P<title>\S.*)$")


def numbered_item(text: str) -> re.Match[str] | None:
    """A numbered item ("1. …", "3.1 …", "Nhiệm vụ 2: …"), also with "Nhiệm vụ" damaged."""
    match = NUMBERED.match(text)
    if match is not None:
        return match
    damaged = _NUMBERED_DAMAGED.match(text)
    if damaged is not None and fuzz.ratio(skeleton(normalize(damaged["words"])), skeleton("nhiem vu")) >= 70:
        return damaged
    return None


COLUMNS = ("ref", "title", "lead", "coordinating", "timeline", "products")
_REF_WORDS = {"stt", "tt", "so tt", "so thu tu"}


def column_of(header: str) -> str | None:
    """Which task field a header cell names: 'Cơ quan chủ trì' → lead, 'Kết quả/Sản phẩm' →
    products. Tolerates lost diacritics and a dropped letter or two."""
    norm = normalize(header).rstrip(" .:")
    if not norm:
        return None
    fixed = repaired(norm)  # OCR-misread words read back: "S6 TT", "Thot gian thyc hien"
    if norm in _REF_WORDS or fixed in _REF_WORDS or re.fullmatch(r"(?:so|s|o)?\s*t{1,2}\s*t?", skeleton(norm)):
        return "ref"  # "STT", "Số TT", and what a dropped letter leaves of them ("ST", "Số T", "T")
    checks = [  # in this order: "Cơ quan phối hợp thực hiện" coordinates, "Thời gian thực hiện" is a time
        ("products", ("san pham", "ket qua")),
        ("coordinating", ("phoi hop",)),
        ("timeline", ("thoi gian", "thoi han", "tien do")),
        ("lead", ("chu tri", "thuc hien chinh", "don vi thuc hien", "co quan thuc hien", "don vi chinh")),
        ("title", ("nhiem vu", "noi dung", "hoat dong", "cong viec")),
    ]
    for text in (norm, fixed):
        for column, words in checks:
            if any(word in text for word in words):
                return column
    for column, words in checks:  # OCR damage: "Co quan chu tr", "Thoi gan thuc hien"
        if len(fixed) >= 5 and any(fuzz.partial_ratio(word, fixed) >= 85 for word in words if len(word) > 6):
            return column
    whole = label_column(norm)  # the header as one phrase: "Tbời gan tbuc hiệri"
    return whole[0] if whole is not None else None


def header_columns(cells: list[str]) -> dict[int, str] | None:
    """The column of each cell when the row is a task table's header, else None."""
    found = {index: column for index, cell in enumerate(cells) if (column := column_of(cell)) is not None}
    fields = set(found.values())
    if "title" not in fields and "ref" in fields and len(fields) >= 3:
        # the task's own column, its header damaged past reading ("Têri hoạt ộrig"): the one after the number
        after = max(i for i, column in found.items() if column == "ref") + 1
        if after < len(cells) and after not in found and cells[after].strip():
            found[after] = "title"
            fields.add("title")
    # A field may be named twice ("Thời gian bắt đầu" | "Thời hạn hoàn thành"): both are read.
    if "title" in fields and len(fields) >= 3 and list(found.values()).count("ref") <= 1:
        return found
    return None


@dataclass
class Row:
    line: int
    values: dict[str, str] = field(default_factory=dict)
    # Text added to a column, kept in pieces and joined once by `done()`: thousands of rows continuing
    # one row (no number) would otherwise copy the growing cell each time (quadratic).
    _pieces: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def add(self, column: str, text: str) -> None:
        if not text:
            return
        pieces = self._pieces.get(column)
        if pieces is None:
            before = self.values.get(column, "")
            pieces = self._pieces[column] = [before] if before else []
        if pieces:
            pieces[-1] = pieces[-1].rstrip()
            pieces.append("\n" if column in ("lead", "coordinating") and pieces[-1].endswith((";", ",")) else " ")
        pieces.append(text)

    def done(self) -> Row:
        """The row with the text added to each column joined into its value."""
        for column, pieces in self._pieces.items():
            self.values[column] = "".join(pieces).strip() if len(pieces) > 1 else pieces[0]
        self._pieces.clear()
        return self


def table_rows(lines: list[Line], notes: Notes) -> list[Row]:
    """Rows of every task table in order: a repeated header (after a page break) continues the
    table; a row without a number continues the row before it."""
    rows: list[Row] = []
    columns: dict[int, str] | None = None
    for index, line in enumerate(lines):
        if line.cells is None:
            if columns is None or not line.text:
                continue
            if rows and _between_rows(lines, index):  # a wrapped cell that lost its tab
                rows[-1].add("title", line.text)
                joined = rows[-1].values["ref"]
                notes.add(line, f"dòng không có cột giữa các dòng của bảng: ghép vào tên nhiệm vụ {joined}")
            elif _ends_table(line):
                columns = None
            continue
        header = header_columns(line.cells)
        if header is not None:
            columns = header
            continue
        if columns is None:
            continue
        values: dict[str, str] = {}
        for i, text in enumerate(line.cells):
            if i in columns and text.strip():
                values[columns[i]] = f"{values.get(columns[i], '')} {text.strip()}".strip()
        if not values or _column_numbers(values):
            continue
        if "ref" not in columns.values():  # no number column: "1. Tuyên truyền …" in the title cell
            numbered = NUMBERED.match(values.get("title", ""))
            if numbered:
                values["ref"], values["title"] = numbered["ref"], numbered["title"]
        ref = row_number(values.get("ref", ""))
        if ref is None and rows:  # continued from the row before (page break, wrapped cell)
            for column, text in values.items():
                if column != "ref":
                    rows[-1].add(column, text)
            continue
        if ref is None:
            notes.add(line, "dòng đầu bảng nhiệm vụ không có số thứ tự")
            ref = "?"
        values["ref"] = ref
        rows.append(Row(line.no, values))
    return [row.done() for row in rows]


def _between_rows(lines: list[Line], index: int) -> bool:
    """A short text line whose next non-empty line is a table row again."""
    if len(lines[index].text) > 80:
        return False
    following = next((lines[i] for i in range(index + 1, len(lines)) if lines[i].text), None)
    return following is not None and following.cells is not None and header_columns(following.cells) is None


def _column_numbers(values: dict[str, str]) -> bool:
    """The row under a header that numbers the columns: '(1)', '(2)' … or 1, 2, 3 …"""
    texts = list(values.values())
    if all(re.fullmatch(r"\(\s*\d{1,2}\s*\)", text) for text in texts):
        return True
    return len(texts) >= 3 and [t.strip() for t in texts] == [str(n) for n in range(1, len(texts) + 1)]


def _ends_table(line: Line) -> bool:
    """Text after a table ends it, unless it is a heading of the appendix itself."""
    return not line.norm.startswith(("phu luc", "danh muc", "(kem theo", "kem theo"))
