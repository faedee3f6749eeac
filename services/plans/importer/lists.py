"""Tasks written as a numbered list instead of a table: each item followed by lines that carry
its facts ("- Tham mưu thực hiện: …", "- Phối hợp thực hiện: …", "- Thời gian thực hiện: …"),
also several on one line ("Chủ trì: …; Phối hợp: …"); a numbered heading with sub-items is a
group, not a task."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz import fuzz

from services.plans.importer.header import is_section_heading
from services.plans.importer.lines import Line, fold
from services.plans.importer.table import Row, numbered_item
from services.plans.importer.vocabulary import label_column, repaired, unfamiliar
from shared.text import normalize

# Any short text before a colon at the start of a segment: a label, if it reads as one, damaged or not.
_MAYBE_LABEL = re.compile(r"(?:^|[;(\[]|\.\s|\s-\s|^-\s*|^\+\s*)\s*(?P<label>[^;:()\[\]]{2,40}?)\s*:")
_FACT = re.compile(r"^[-+•*]?\s*(?P<label>[^:]{3,45}?)\s*:\s*(?P<value>.*)$")
FACT_LABELS = [  # in this order: "Thời gian thực hiện" is a timeline, not who does it
    ("coordinating", ("phoi hop",)),
    ("timeline", ("thoi gian", "thoi han", "tien do")),
    ("products", ("san pham", "ket qua")),
    ("lead", ("chu tri", "tham muu", "don vi thuc hien", "co quan thuc hien", "don vi thuc hien")),
]


def _column_of_label(label: str) -> str | None:
    label = normalize(label)
    for text in (label, repaired(label)) if unfamiliar(label) else (label,):  # "Thot gian thyc hien"
        if text in ("thuc hien", "nguoi thuc hien"):
            return "lead"
        column = next((column for column, words in FACT_LABELS if any(word in text for word in words)), None)
        if column is not None:
            return column
    fixed = repaired(label)
    if len(fixed) >= 6 and unfamiliar(label):  # "Phi hp thc hiện", "Tời gan": nearly a label
        for column, words in FACT_LABELS:
            if any(fuzz.partial_ratio(word, fixed) >= 80 for word in words if len(word) >= 7):
                return column
    whole = label_column(label)  # the label as one phrase: "Phố| hợp", "Thời ạn", "hủ trì"
    return whole[0] if whole is not None else None


def _labels(text: str) -> list[tuple[int, int, str]]:
    """Where each labelled fact of a line starts, where its value starts, and its field."""
    found = []
    for match in _MAYBE_LABEL.finditer(fold(text)):
        column = _column_of_label(match["label"])
        if column is not None:
            found.append((match.start("label"), match.end(), column))
    return found


def facts_in(text: str) -> list[tuple[str, str]]:
    """Every labelled fact in a line, in order, each value running to the next label."""
    found = _labels(text)
    facts = []
    for index, (_, value_at, column) in enumerate(found):
        end = found[index + 1][0] if index + 1 < len(found) else len(text)
        facts.append((column, text[value_at:end].strip(" ;,.)]([-")))
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
        if pending is not None and current is not None and not numbered_item(line.text):
            current.add(pending, line.text.lstrip("-+• ").strip())
            pending = None
            continue
        pending = None
        item = numbered_item(line.text)
        if item and not line.text.rstrip().endswith(";"):
            title, facts = item["title"].strip(), facts_in(item["title"])
            if facts:  # "Nhiệm vụ 5: … (Chủ trì: …; Thời gian: …)": the facts end the title
                title = title[: _labels(title)[0][0]].rstrip(" ;,.([-")
            current = Row(line.no, {"ref": item["ref"], "title": title.rstrip(":")})
            for column, value in facts:
                current.add(column, value)
            rows.append(current)
    rows = [row.done() for row in rows]
    needed = {"lead", "timeline"}
    # "3" heads "3.1" and "3.1.2": every number's leading parts, in a set (a lookup per row, not a
    # comparison with every other row)
    heads = _leading_parts(row.values["ref"] for row in rows)
    kept = [row for row in rows if needed & row.values.keys() or row.values["ref"] in heads]
    # a heading is kept only if one of its sub-items is a task
    heads_of_tasks = _leading_parts(r.values["ref"] for r in kept if needed & r.values.keys())
    return [r for r in kept if needed & r.values.keys() or r.values["ref"] in heads_of_tasks]


def _leading_parts(refs: Iterable[str]) -> set[str]:
    """'4.1.2' → {'4', '4.1'}: the numbers of the groups a numbered item is under."""
    found: set[str] = set()
    for ref in refs:
        parts = ref.split(".")
        found.update(".".join(parts[:n]) for n in range(1, len(parts)))
    return found
