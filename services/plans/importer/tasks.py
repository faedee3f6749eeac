"""Tasks of a plan, from an appendix table (columns in any order, known by their headers; sub-rows
4.1, 4.2 under a group row; rows continued across page breaks; the header repeated) or, when
there is no table, from a numbered list whose items carry their facts in lines ("- Tham mưu
thực hiện: …", "- Thời gian thực hiện: …")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from services.plans.importer.header import is_section_heading
from services.plans.importer.lines import Line, Notes, fold
from services.plans.importer.names import BodyNames, Resolved, area_of, channels_in, product_kinds
from shared.text import normalize
from shared.timelines import Schedule, TimelineError, parse_timeline

COLUMNS = ("ref", "title", "lead", "coordinating", "timeline", "products")
_REF = re.compile(r"^(?P<ref>\d{1,3}(?:\.\d{1,2})*)\.?$")
_REF_WORDS = {"stt", "tt", "so tt", "so thu tu"}


def column_of(header: str) -> str | None:
    """Which task field a header cell names: 'Cơ quan chủ trì' → lead, 'Kết quả/Sản phẩm' →
    products. Tolerates lost diacritics and a dropped letter or two."""
    norm = normalize(header).rstrip(" .:")
    if not norm:
        return None
    if norm in _REF_WORDS:
        return "ref"
    checks = [  # in this order: "Cơ quan phối hợp thực hiện" coordinates, "Thời gian thực hiện" is a time
        ("products", ("san pham", "ket qua")),
        ("coordinating", ("phoi hop",)),
        ("timeline", ("thoi gian", "thoi han", "tien do")),
        ("lead", ("chu tri", "thuc hien chinh", "don vi thuc hien", "co quan thuc hien", "don vi chinh")),
        ("title", ("nhiem vu", "noi dung", "hoat dong", "cong viec")),
    ]
    for column, words in checks:
        if any(word in norm for word in words):
            return column
    for column, words in checks:  # OCR damage: "Co quan chu tr", "Thoi gan thuc hien"
        if any(fuzz.partial_ratio(word, norm) >= 85 for word in words if len(word) > 6):
            return column
    return None


def header_columns(cells: list[str]) -> dict[int, str] | None:
    """The column of each cell when the row is a task table's header, else None."""
    found = {index: column for index, cell in enumerate(cells) if (column := column_of(cell)) is not None}
    fields = set(found.values())
    # A field may be named twice ("Thời gian bắt đầu" | "Thời hạn hoàn thành"): both are read.
    if "title" in fields and len(fields) >= 3 and list(found.values()).count("ref") <= 1:
        return found
    return None


@dataclass
class Row:
    line: int
    values: dict[str, str] = field(default_factory=dict)

    def add(self, column: str, text: str) -> None:
        if text:
            before = self.values.get(column, "")
            joiner = "\n" if column in ("lead", "coordinating") and before.endswith((";", ",")) else " "
            self.values[column] = f"{before}{joiner}{text}".strip() if before else text


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
            numbered = _ITEM.match(values.get("title", ""))
            if numbered:
                values["ref"], values["title"] = numbered["ref"], numbered["title"]
        ref = _ref(values.get("ref", ""))
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
    return rows


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


def _ref(text: str) -> str | None:
    """'4.1', '4,2' (OCR), '1O' → '10'; a roman numeral ('I', 'II.') or a capital letter ('A')
    heads a group of tasks."""
    heading = re.fullmatch(r"(?P<r>[IVX]{1,4}|[A-H])\.?", text.strip())
    if heading:
        return heading["r"]
    text = text.strip().replace(",", ".").replace("l", "1").replace("O", "0")
    match = _REF.match(text)
    return match["ref"] if match else None


def is_roman(ref: str) -> bool:
    """A group heading numbered with a roman numeral or a letter."""
    return bool(re.fullmatch(r"[IVX]+|[A-H]", ref))


@dataclass
class TaskDraft:
    ref: str
    title: str
    line: int
    group: bool = False
    lead: list[Resolved] = field(default_factory=list)
    coordinating: list[Resolved] = field(default_factory=list)
    timeline: Schedule | None = None
    timeline_text: str = ""
    products: list[str] = field(default_factory=list)
    area: str | None = None
    channels: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "title": self.title,
            "group": self.group,
            "lead": [r.name or r.text for r in self.lead],
            "coordinating": [r.name or r.text for r in self.coordinating],
            "lead_units": [r.as_json() for r in self.lead],
            "coordinating_units": [r.as_json() for r in self.coordinating],
            "timeline": self.timeline.model_dump(mode="json", exclude_none=True) if self.timeline else None,
            "timeline_text": self.timeline_text,  # as written, also when it could not be read
            "products": self.products,
            "product_kinds": product_kinds(" ; ".join(self.products)),
            "area": self.area,
            "channels": self.channels,
            "line": self.line,
        }


def _products(text: str) -> list[str]:
    parts = re.split(r"\s*(?:^|\s)[-+•]\s+|\s*[;\n]\s*", text)
    return [p.strip(" .;,") for p in parts if p.strip(" .;,")]


def build_tasks(rows: list[Row], bodies: BodyNames, notes: Notes) -> list[TaskDraft]:
    tasks: list[TaskDraft] = []
    heads = {ref.rsplit(".", 1)[0] for ref in (row.values["ref"] for row in rows) if "." in ref}
    heads |= {head.rsplit(".", 1)[0] for head in list(heads) if "." in head}
    seen: set[str] = set()
    section = ""
    for row in rows:
        values = row.values
        ref = values["ref"]
        if is_roman(ref):
            section = ref
        elif ref in seen and section:  # numbering starts again under each roman group: I.1, II.1
            notes.add(row.line, f"số thứ tự {ref} lặp lại trong nhóm {section}: đọc là {section}.{ref}")
            ref = values["ref"] = f"{section}.{ref}"
        seen.add(ref)
        group = is_roman(ref) or ref in heads
        title = " ".join(values.get("title", "").split())
        task = TaskDraft(ref=ref, title=title, line=row.line, group=group)
        lead_text = values.get("lead", "")
        # A heading row merged across the table repeats its title in every cell: not a lead.
        if group and lead_text and " ".join(lead_text.split()) == title:
            lead_text = ""
        task.lead = bodies.split(lead_text)
        coordinating = values.get("coordinating", "")
        task.coordinating = [] if group and " ".join(coordinating.split()) == title else bodies.split(coordinating)
        timeline = " ".join(values.get("timeline", "").split())
        if group and timeline == title:
            timeline = ""
        task.timeline_text = timeline
        products = values.get("products", "")
        task.products = [] if group and " ".join(products.split()) == title else _products(products)
        if not title:
            notes.add(row.line, f"nhiệm vụ {ref}: không có tên nhiệm vụ")
        tasks.append(task)
    _inherit_merged_cells(tasks, notes)
    for task in tasks:
        if task.timeline_text:
            try:
                task.timeline = parse_timeline(task.timeline_text)
            except TimelineError as exc:
                notes.add(task.line, f"nhiệm vụ {task.ref}: {exc}")
        elif not task.group:
            notes.add(task.line, f"nhiệm vụ {task.ref}: không có thời gian thực hiện")
        if not task.group:
            if not task.lead:
                notes.add(task.line, f"nhiệm vụ {task.ref}: không có cơ quan, đơn vị chủ trì")
            for body in task.lead:
                if body.name is None and not _generic(body.text):
                    notes.add(task.line, f"nhiệm vụ {task.ref}: không nhận ra đơn vị chủ trì {body.text!r}")
                elif body.name is not None and body.confidence < 1:
                    notes.add(
                        task.line,
                        f"nhiệm vụ {task.ref}: đọc {body.text!r} là {body.name!r} (độ tin cậy {body.confidence:.2f})",
                    )
        words = " ".join([task.title, *task.products])
        task.area = area_of(task.title)
        task.channels = channels_in(words)
    return tasks


def _generic(text: str) -> bool:
    return normalize(text).startswith(("cac ", "ubnd cac", "uy ban nhan dan cac", "toan the"))


def _inherit_merged_cells(tasks: list[TaskDraft], notes: Notes) -> None:
    """Sub-rows (4.1 … 4.4) whose timeline, products or coordinating cell is empty while exactly
    one sibling has one: the cell was merged across them in the original table, and a text copy
    kept its text on one row only. They share it, with a warning each."""
    for parent in (t for t in tasks if t.group):
        children = [
            t for t in tasks if t.ref.startswith(parent.ref + ".") and t.ref.count(".") == parent.ref.count(".") + 1
        ]
        for attribute in ("timeline_text", "products", "coordinating"):
            filled = [getattr(t, attribute) for t in children if getattr(t, attribute)]
            distinct = {repr(value) for value in filled}
            if len(filled) == 1 and len(distinct) == 1 and len(children) > 1:
                value = filled[0]
                for child in children:
                    if not getattr(child, attribute):
                        setattr(child, attribute, value)
                        label = {"timeline_text": "thời gian thực hiện", "products": "sản phẩm"}.get(
                            attribute, "đơn vị phối hợp"
                        )
                        notes.add(child.line, f"nhiệm vụ {child.ref}: {label} lấy theo ô gộp của nhóm {parent.ref}")


# --- numbered lists ------------------------------------------------------------------------

_ITEM = re.compile(r"^(?:nhiệm vụ\s+|nhiem vu\s+)?(?P<ref>\d{1,2}(?:\.\d{1,2})*)[.):]?\s+(?P<title>\S.*)$", re.I)
# A labelled fact, wherever it stands in a line: "Chủ trì: …; Phối hợp: …; Thời gian: …".
_LABEL = re.compile(
    r"(?:^|[;(\[]|\s-\s|^-\s*|^\+\s*)\s*(?P<label>(?:co quan |don vi )?(?:chu tri|phoi hop)(?: thuc hien)?"
    r"|tham muu(?: thuc hien)?|(?:co quan |don vi )thuc hien(?: chinh)?"
    r"|thoi gian(?: thuc hien| hoan thanh)?|thoi han(?: hoan thanh)?|tien do|san pham|ket qua(?:/san pham)?)\s*:"
)
_FACT = re.compile(r"^[-+•*]?\s*(?P<label>[^:]{3,45}?)\s*:\s*(?P<value>.*)$")
FACT_LABELS = [  # in this order: "Thời gian thực hiện" is a timeline, not who does it
    ("coordinating", ("phoi hop",)),
    ("timeline", ("thoi gian", "thoi han", "tien do")),
    ("products", ("san pham", "ket qua")),
    ("lead", ("chu tri", "tham muu", "don vi thuc hien", "co quan thuc hien", "don vi thuc hien")),
]


def _column_of_label(label: str) -> str | None:
    label = normalize(label)
    if label in ("thuc hien", "nguoi thuc hien"):
        return "lead"
    return next((column for column, words in FACT_LABELS if any(word in label for word in words)), None)


def facts_in(text: str) -> list[tuple[str, str]]:
    """Every labelled fact in a line, in order, each value running to the next label."""
    folded = fold(text)
    found = list(_LABEL.finditer(folded))
    facts = []
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        column = _column_of_label(match["label"])
        if column is not None:
            facts.append((column, text[match.end() : end].strip(" ;,.)]")))
    return facts


def _fact(line: Line) -> tuple[str, str] | None:
    match = _FACT.match(line.text)
    if not match:
        return None
    column = _column_of_label(match["label"])
    return (column, match["value"].strip()) if column is not None else None


def list_rows(lines: list[Line], skip: range) -> list[Row]:
    """Numbered items ('1. Tuyên truyền …', '3.1 …') with the fact lines under them; an item
    without facts is kept only as the heading of sub-items (a group)."""
    rows: list[Row] = []
    current: Row | None = None
    pending: str | None = None
    for index, line in enumerate(lines):
        if index in skip or line.cells is not None:
            current = None if index in skip else current
            continue
        if is_section_heading(line):
            current = None
            continue
        fact = _fact(line)
        if fact is not None and current is not None:
            several = facts_in(line.text)
            for column, value in several if len(several) > 1 else [fact]:
                current.add(column, value)
            pending = fact[0] if not fact[1] else None  # "- Đơn vị phối hợp:" and the value below it
            continue
        if pending is not None and current is not None and not _ITEM.match(line.text):
            current.add(pending, line.text.lstrip("-+• ").strip())
            pending = None
            continue
        pending = None
        item = _ITEM.match(line.text)
        if item and not line.text.rstrip().endswith(";"):
            title, facts = item["title"].strip(), facts_in(item["title"])
            if facts:  # "Nhiệm vụ 5: … (Chủ trì: …; Thời gian: …)": the facts end the title
                title = title[: fold(title).find(_LABEL.search(fold(title)).group("label"))].rstrip(" ;,.([-")  # type: ignore[union-attr]
            current = Row(line.no, {"ref": item["ref"], "title": title.rstrip(":")})
            for column, value in facts:
                current.add(column, value)
            rows.append(current)
    needed = {"lead", "timeline"}
    refs = [row.values["ref"] for row in rows]
    kept = []
    for row in rows:
        has_facts = bool(needed & row.values.keys())
        heads = any(other.startswith(row.values["ref"] + ".") for other in refs)
        if has_facts or heads:
            kept.append(row)
    # a heading is kept only if one of its sub-items is a task
    tasks = {r.values["ref"] for r in kept if needed & r.values.keys()}
    return [r for r in kept if needed & r.values.keys() or any(t.startswith(r.values["ref"] + ".") for t in tasks)]


def count_stated(lines: list[Line]) -> tuple[int, Line] | None:
    """'Tổng số: 09 nhiệm vụ' under an appendix: the count the document itself states."""
    for line in lines:
        match = re.search(r"tong so\s*:?\s*(\d+)\s*nhiem vu", line.norm)
        if match:
            return int(match.group(1)), line
    return None
