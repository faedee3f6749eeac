"""Tasks of a plan from the rows read off its appendix table or numbered list: titles, leads
and coordinating bodies resolved to names, timelines through the one timeline parser, a cell
merged down a group shared by its sub-rows (with a warning), content areas and channels."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from services.plans.importer.lines import Line, Notes, is_roman
from services.plans.importer.names import (
    BodyNames,
    Resolved,
    area_of,
    channels_in,
    is_generic,
    product_kinds,
    usual_wording,
)
from services.plans.importer.table import Row
from services.plans.importer.timewords import read_timeline
from services.plans.importer.vocabulary import misread, repaired_time
from shared.text import normalize
from shared.timelines import Schedule, TimelineError, parse_timeline

_ROMAN_QUARTER = re.compile(r"\bquy\s*[ivl1|]{1,4}\b")
SURE = 0.9  # a coordinating body read back with less confidence than this is named in a warning


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


def build_tasks(rows: list[Row], bodies: BodyNames, notes: Notes, *, damaged: bool = False) -> list[TaskDraft]:
    """The tasks of the rows; in a `damaged` scan what no vocabulary can confirm (a roman numeral
    that may have lost a stroke, a body's name read back to nothing known) is flagged too."""
    tasks: list[TaskDraft] = []
    heads = {ref.rsplit(".", 1)[0] for ref in (row.values["ref"] for row in rows) if "." in ref}
    heads |= {head.rsplit(".", 1)[0] for head in list(heads) if "." in head}
    seen: set[str] = set()
    section = ""
    refs = [row.values["ref"] for row in rows]
    for index, row in enumerate(rows):
        values = row.values
        ref = values["ref"]
        digit = _digit_read_as_letter(refs, index)
        if digit is not None:
            # "1" read as "I", "8" as "B" (a group heading) between the tasks it stands between: said so
            notes.add(
                row.line, f"số thứ tự {ref!r} đứng giữa các nhiệm vụ liền số: đọc là {digit} (có thể bị nhận dạng sai)"
            )
            ref = values["ref"] = refs[index] = digit
        if is_roman(ref):
            following = _next_roman(section)
            if ref in seen and following is not None and following not in refs:
                # "II" read as "I" (a stroke lost) after group I: the next group, said so
                notes.add(
                    row.line,
                    f"nhóm {ref} lặp lại ngay sau nhóm {section}: đọc là {following} (có thể bị nhận dạng sai)",
                )
                ref = values["ref"] = refs[index] = following
            elif ref in seen:
                notes.add(row.line, f"nhóm {ref} lặp lại: số của nhóm có thể bị nhận dạng sai")
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
                task.timeline = _misread_timeline(task, notes)
                if task.timeline is None:
                    notes.add(task.line, f"nhiệm vụ {task.ref}: {exc}")
        elif not task.group:
            notes.add(task.line, f"nhiệm vụ {task.ref}: không có thời gian thực hiện")
        if damaged and task.timeline is not None and _ROMAN_QUARTER.search(normalize(task.timeline_text)):
            # "Quý I" may be "Quý II" with a stroke lost, and nothing in the cell can tell
            notes.add(
                task.line,
                f"nhiệm vụ {task.ref}: số quý La Mã trong bản quét bị hỏng, cần đối chiếu: {task.timeline_text!r}",
            )
        if not task.group:
            if not task.lead:
                notes.add(task.line, f"nhiệm vụ {task.ref}: không có cơ quan, đơn vị chủ trì")
            for body in task.coordinating:
                if body.name is None and misread(body.text):
                    notes.add(
                        task.line, f"nhiệm vụ {task.ref}: tên đơn vị phối hợp có thể bị nhận dạng sai: {body.text!r}"
                    )
                elif damaged and body.name is None and not usual_wording(body.text):
                    notes.add(
                        task.line,
                        f"nhiệm vụ {task.ref}: đơn vị phối hợp chưa đối chiếu được (bản quét bị hỏng): {body.text!r}",
                    )
                elif body.name is not None and body.confidence < SURE:
                    notes.add(
                        task.line,
                        f"nhiệm vụ {task.ref}: đọc đơn vị phối hợp {body.text!r} là {body.name!r} "
                        f"(độ tin cậy {body.confidence:.2f})",
                    )
            for body in task.lead:
                if damaged and body.name is None and is_generic(body.text) and not usual_wording(body.text):
                    notes.add(
                        task.line,
                        f"nhiệm vụ {task.ref}: đơn vị chủ trì chưa đối chiếu được (bản quét bị hỏng): {body.text!r}",
                    )
                elif body.name is None and not is_generic(body.text):
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


_ROMANS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")


def _next_roman(numeral: str) -> str | None:
    """The group numeral after `numeral` ('II' after 'I'; 'B' after 'A'), None if unknown."""
    if numeral in _ROMANS[:-1]:
        return _ROMANS[_ROMANS.index(numeral) + 1]
    if len(numeral) == 1 and "A" <= numeral < "H":
        return chr(ord(numeral) + 1)
    return None


_LETTER_DIGITS = {"I": "1", "B": "8"}  # group marks that are also how OCR reads a digit


def _digit_read_as_letter(refs: list[str], index: int) -> str | None:
    """The task number a group mark ('I', 'B') stands for when it sits where that number belongs:
    right after the number before it (or first) and right before the number after it."""
    digit = _LETTER_DIGITS.get(refs[index])
    if digit is None:
        return None
    number = int(digit)
    before = refs[index - 1] if index else None
    after = refs[index + 1] if index + 1 < len(refs) else None
    fits_before = (
        (before is None and number == 1)
        or before == str(number - 1)
        or (before is not None and before.split(".")[0] == str(number - 1) and "." in before)
    )
    return digit if fits_before and after == str(number + 1) else None


def _misread_timeline(task: TaskDraft, notes: Notes) -> Schedule | None:
    """A timeline the parser could not read, read again with its OCR-misread words read back
    ("Thuong xyen" → "thuong xuyen", "Trưóc ngay 3O/11"): kept, with a warning saying so."""
    fixed = repaired_time(task.timeline_text)
    try:
        if fixed == normalize(task.timeline_text):
            raise TimelineError(fixed)
        schedule = parse_timeline(fixed)
    except TimelineError:
        reading = read_timeline(task.timeline_text)  # each word's readings tried whole: "hang 3/2025"
        if reading is None:
            return None
        schedule, fixed = reading.schedule, reading.text
    notes.add(
        task.line, f"nhiệm vụ {task.ref}: đọc thời gian {task.timeline_text!r} là {fixed!r} (chữ bị nhận dạng sai)"
    )
    return schedule.model_copy(update={"text": task.timeline_text})


def _inherit_merged_cells(tasks: list[TaskDraft], notes: Notes) -> None:
    """Sub-rows (4.1 … 4.4) whose timeline, products or coordinating cell is empty while exactly
    one sibling has one: the cell was merged across them in the original table, and a text copy
    kept its text on one row only. They share it, with a warning each."""
    under: dict[str, list[TaskDraft]] = {}  # sub-rows by the number of their group: linear, not quadratic
    for task in tasks:
        if "." in task.ref:
            under.setdefault(task.ref.rsplit(".", 1)[0], []).append(task)
    for parent in (t for t in tasks if t.group):
        children = under.get(parent.ref, [])
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


def count_stated(lines: list[Line]) -> tuple[int, Line] | None:
    """'Tổng số: 09 nhiệm vụ' under an appendix: the count the document itself states."""
    for line in lines:
        match = re.search(r"tong so\s*:?\s*(\d+)\s*nhiem vu", line.norm)
        if match:
            return int(match.group(1)), line
    return None
