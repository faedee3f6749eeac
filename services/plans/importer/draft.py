"""A plan document read into a draft: header, basis, tasks, duties, the content areas and channels
it mentions, and a warning (with its line) for everything the reader was unsure of. Pure: the
caller passes the bytes and the body names it knows; nothing is looked up or stored here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any

import filetype

from services.plans.domain import PlanIn, names_children
from services.plans.importer.closing import Signature, read_recipients, read_signature
from services.plans.importer.duties import DutyDraft, duties_section, read_duties
from services.plans.importer.header import (
    ParentPlan,
    find_basis,
    first_section,
    read_issuer,
    read_number,
    read_parent,
    read_period,
    read_place_and_date,
    read_title,
    split_basis,
)
from services.plans.importer.lines import Line, Notes, UnreadableDocument, read_docx, read_text, tidy
from services.plans.importer.lists import list_rows
from services.plans.importer.names import (
    BodyNames,
    Known,
    Resolved,
    areas_in,
    channels_in,
    looks_damaged,
    lost_letters,
)
from services.plans.importer.pdf import read_pdf
from services.plans.importer.scan import Progress, ReadLimits, read_image
from services.plans.importer.table import Row, table_rows
from services.plans.importer.tasks import TaskDraft, build_tasks, count_stated
from services.plans.importer.vocabulary import DAMAGED_SHARE, misread_share
from shared.periods import Period, PeriodError
from shared.text import normalize

DOCX_MAGIC = b"PK\x03\x04"
# What a plan may come as, by its name's type: its media type and how a person calls it.
TYPES = {
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word (.docx)"),
    ".txt": ("text/plain", "Văn bản (.txt, UTF-8)"),
    ".pdf": ("application/pdf", "PDF (.pdf, kể cả bản quét)"),
    ".png": ("image/png", "Ảnh quét PNG (.png)"),
    ".jpg": ("image/jpeg", "Ảnh quét JPEG (.jpg)"),
    ".jpeg": ("image/jpeg", "Ảnh quét JPEG (.jpeg)"),
    ".tif": ("image/tiff", "Ảnh quét TIFF (.tif, nhiều trang)"),
    ".tiff": ("image/tiff", "Ảnh quét TIFF (.tiff, nhiều trang)"),
}
IMAGES = tuple(suffix for suffix, (media, _) in TYPES.items() if media.startswith("image/"))
READABLE = tuple(TYPES)  # a file without a type in its name ("KH 15.01.2025"): by its content
ACCEPTED_TYPES = ", ".join(label for _, label in TYPES.values())


@dataclass
class PlanDraft:
    number: str = ""
    issuer: str = ""
    issuer_code: str | None = None
    place: str = ""
    date: dt.date | None = None
    title: str = ""
    period: str = ""
    parent: ParentPlan | None = None
    tasks: list[TaskDraft] = field(default_factory=list)
    duties: list[DutyDraft] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    signer: Signature | None = None
    tasks_from: str = ""  # "table", "list" or ""
    notes: Notes = field(default_factory=Notes)

    def as_json(self) -> dict[str, Any]:
        parent = self.parent
        return {
            "number": self.number,
            "issuer": {"name": self.issuer, "code": self.issuer_code},
            "place": self.place,
            "date": self.date.isoformat() if self.date else None,
            "title": self.title,
            "period": self.period,
            "parent": (
                {
                    "number": parent.number,
                    "date": parent.date.isoformat() if parent.date else None,
                    "issuer": parent.issuer,
                }
                if parent
                else None
            ),
            "tasks_from": self.tasks_from,
            "tasks": [task.as_json() for task in self.tasks],
            "duties": [duty.as_json() for duty in self.duties],
            "areas": self.areas,
            "channels": self.channels,
            "recipients": self.recipients,
            "signer": {"name": self.signer.name, "title": self.signer.title} if self.signer else None,
            "warnings": [{"line": w.line, "message": w.message} for w in self.notes.items],
        }


SCANS = {TYPES[suffix][0] for suffix in IMAGES}


def kind_of(content: bytes) -> str:
    """'docx', 'pdf', 'image' or 'text', by the file's first bytes (not its name): a zip is taken
    for a Word file (python-docx says if it is none), the rest as `filetype` knows it, as evidence
    files are (services/tasks/evidence.py)."""
    if content.startswith(DOCX_MAGIC):
        return "docx"
    guessed = filetype.guess_mime(content)
    if guessed == "application/pdf":
        return "pdf"
    return "image" if guessed in SCANS else "text"


def read_lines(
    content: bytes, filename: str, limits: ReadLimits | None = None, progress: Progress | None = None
) -> list[Line]:
    """The document's lines, by its content: a .docx is a zip, a PDF its pages (a scanned page by
    OCR), an image (.png, .jpg, .tif) its pages by OCR, anything else must be UTF-8 text; a file
    named as another type (.doc, .exe …), or as a PDF or image that is none, is refused."""
    suffix = PurePath(filename).suffix.lower()
    limits = limits or ReadLimits()
    if not content.strip():
        raise UnreadableDocument("tệp rỗng")
    kind = kind_of(content)
    if kind == "docx":
        return tidy(read_docx(content))
    if kind == "pdf":
        return tidy(read_pdf(content, limits, progress))  # lines wrapped by the page joined by their place
    if kind == "image":
        return tidy(read_image(content, limits, progress))
    if suffix == ".pdf" or suffix in IMAGES:
        what = "PDF" if suffix == ".pdf" else f"ảnh {suffix}"
        raise UnreadableDocument(f"tệp mang tên {what} nhưng nội dung không phải {what}; hãy xuất hoặc quét lại tệp")
    # any other named type (.doc, .exe …) is refused by its name, before its bytes are tried as text
    named_otherwise = suffix not in READABLE and any(c.isalpha() for c in suffix)
    if named_otherwise or content.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableDocument(f"chỉ đọc được các loại tệp: {ACCEPTED_TYPES}; hãy lưu lại tệp .doc thành .docx")
    return tidy(read_text(content), wrapped=True)


def _with_own_bodies(draft: PlanDraft, names: BodyNames) -> BodyNames:
    """Bodies the plan lists in its duties are bodies too, in the plan's own spelling; a damaged
    duty heading that matched a known body takes that body's name instead."""
    for duty in draft.duties:
        unit = duty.unit
        if unit is None or unit.name is None or unit.name == duty.body:
            continue
        if unit.confidence >= 1:  # the same name, spelt otherwise (lost diacritics, an abbreviation)
            duty.body = unit.name
        elif looks_damaged(duty.body) or lost_letters(duty.body, unit.name):  # "P ò g Vă", "Con an phuon"
            draft.notes.add(duty.line, f"đọc {duty.body!r} là {unit.name!r} (độ tin cậy {unit.confidence:.2f})")
            duty.body = unit.name
        else:  # a legible name of its own ("… và Thể dục thể thao"): this plan's body, as written
            duty.unit = Resolved(duty.body, None, None, unit.confidence)
    own = [d.body for d in draft.duties if d.unit is not None and d.unit.name is None]
    return BodyNames([Known(body) for body in own if not normalize(body).startswith("cac ")] + names.known)


@dataclass
class Reading:
    """What a document says before any body name is resolved: its lines, the head of the draft,
    where its duties are and its task rows. Bodies are resolved from it, as often as needed
    (once more when the issuer's own bodies are known), without reading the file again."""

    lines: list[Line]
    head: PlanDraft
    section: range
    rows: list[Row]
    damaged: bool = False  # a damaged scan: what cannot be checked against a vocabulary is flagged


def read_plan(
    content: bytes, filename: str, limits: ReadLimits | None = None, progress: Progress | None = None
) -> Reading:
    lines = read_lines(content, filename, limits, progress)
    head = PlanDraft()
    notes = head.notes
    top = lines[: first_section(lines)]
    head.number = read_number(top, notes)
    head.place, head.date = read_place_and_date(top, notes)
    head.title, after_title = read_title(lines, notes)
    head.title, basis = split_basis(head.title, lines[after_title - 1] if after_title else None)
    head.period = read_period(head.title, notes)
    basis = basis or find_basis(lines, after_title)
    head.parent = read_parent(basis, notes)
    head.issuer = read_issuer(top, head.title, basis.text if basis else "", notes)
    if head.place and normalize(head.issuer).endswith(" " + normalize(head.place)):
        head.place = head.issuer[-len(head.place) :]  # "Hoa Thinh" as OCR left it: the issuer's spelling
    section = duties_section(lines)
    rows = table_rows(lines, notes)
    head.tasks_from = "table" if rows else ""
    if not rows:
        rows = list_rows(lines, skip=section)
        head.tasks_from = "list" if rows else ""
    if not rows:
        notes.add(
            None,
            "không thấy bảng nhiệm vụ (phụ lục) hay danh sách nhiệm vụ có đơn vị chủ trì, thời gian thực hiện; "
            "các việc được giao chỉ nằm trong phần tổ chức thực hiện",
        )
    body_text = " ".join(line.text for line in lines[first_section(lines) : section.start or len(lines)])
    head.areas = areas_in(body_text)
    head.channels = channels_in(body_text)
    head.recipients = read_recipients(lines)
    head.signer = read_signature(lines)
    damaged = misread_share([line.text for line in lines]) > DAMAGED_SHARE
    return Reading(lines, head, section, rows, damaged)


def resolve_plan(reading: Reading, *, known: list[Known] | None = None) -> PlanDraft:
    """The draft with its duties and tasks, bodies resolved against `known` (the directory's, with
    codes), the standard bodies and those the plan itself names."""
    draft = replace(reading.head, notes=Notes(list(reading.head.notes.items)))
    names = BodyNames.standard(known)
    draft.duties = read_duties(reading.lines, reading.section, names, draft.notes)
    names = _with_own_bodies(draft, names)
    draft.tasks = build_tasks(reading.rows, names, draft.notes, damaged=reading.damaged)
    _check_timelines(draft)
    stated = count_stated(reading.lines)
    if stated is not None:
        count, line = stated
        real = sum(1 for task in draft.tasks if not task.group)
        if count != real:
            draft.notes.add(line, f"văn bản ghi {count} nhiệm vụ nhưng đọc được {real}")
    return draft


def _check_timelines(draft: PlanDraft) -> None:
    """A quarter or a month outside the plan's own period, or over before the plan was issued, is
    more likely a numeral OCR misread ("Quý I" for "Quý IV": a stroke lost) than a task: said so."""
    try:
        plan = Period.parse(draft.period) if draft.period else None
    except PeriodError:
        plan = None
    for task in draft.tasks:
        schedule = task.timeline
        if schedule is None or schedule.kind not in ("quarter", "month"):
            continue
        year = schedule.year or (plan.year if plan else draft.date.year if draft.date else None)
        index = schedule.quarter if schedule.kind == "quarter" else schedule.month
        if year is None or index is None:
            continue
        when = Period(schedule.kind, year, index)
        outside = plan is not None and when.year == plan.year and not plan.contains(when)
        over = draft.date is not None and when.end < draft.date
        if outside or over:
            why = f"ngoài kỳ của kế hoạch ({plan})" if outside else "đã qua trước ngày ban hành kế hoạch"
            draft.notes.add(
                task.line, f"nhiệm vụ {task.ref}: thời gian {task.timeline_text!r} {why}; có thể bị nhận dạng sai"
            )


def parse_plan(
    content: bytes,
    filename: str,
    *,
    known: list[Known] | None = None,
    limits: ReadLimits | None = None,
    progress: Progress | None = None,
) -> PlanDraft:
    return resolve_plan(read_plan(content, filename, limits, progress), known=known)


def to_plan_in(draft: PlanDraft) -> tuple[PlanIn, list[str]]:
    """The draft as the body of POST /api/plans (ValidationError naming `tasks[2].title` …), and
    what was left out of it: a lead that is no single body ('các cơ quan, đơn vị có liên quan')
    cannot lead, and products without a number are no targets."""
    left_out: list[str] = []
    tasks = []
    for task in draft.tasks:
        lead = []
        for body in task.lead:
            if body.code or body.name:
                lead.append(body.code or body.name or body.text)
            elif names_children(body.text):
                lead.append(body.text)  # "UBND các xã, thị trấn": every child unit
            else:
                left_out.append(
                    f"nhiệm vụ {task.ref}: {body.text!r} không phải một đơn vị cụ thể, không lưu làm chủ trì"
                )
        if task.products:
            left_out.append(
                f"nhiệm vụ {task.ref}: sản phẩm {'; '.join(task.products)!r} không có số lượng, không lưu làm chỉ tiêu"
            )
        tasks.append(
            {
                "ref": task.ref,
                "title": task.title or f"Nhiệm vụ {task.ref}",
                "group": task.group,
                "lead": lead,
                "coordinating": [b.code or b.name or b.text for b in task.coordinating],
                # the structured schedule, or the text as written, so that a refusal quotes it
                "timeline": task.timeline.model_dump(mode="json") if task.timeline else task.timeline_text or None,
                "area": task.area,
                "channels": task.channels,
            }
        )
    parent = draft.parent
    signer = draft.signer
    plan = PlanIn.model_validate(
        {
            "number": draft.number,
            "title": draft.title,
            "issuer": draft.issuer_code or "",
            "period": draft.period,
            "date": draft.date,
            "place": draft.place,
            "parent": {"number": parent.number, "date": parent.date, "issuer": parent.issuer} if parent else None,
            "areas": draft.areas,
            "channels": draft.channels,
            "duties": [
                {
                    "body": duty.body,
                    "lines": duty.lines,
                    "reporting": [{"every": r.every, "to": r.to, "by": r.by, "what": r.text} for r in duty.reporting],
                }
                for duty in draft.duties
            ],
            "recipients": draft.recipients,
            "signer": {"name": signer.name, "title": signer.title} if signer else None,
            "tasks": tasks,
        }
    )
    return plan, left_out
