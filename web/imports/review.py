"""The review form of an imported plan: the draft POST /api/plans/parse answered, as fields an
official corrects, and back, as the body of POST /api/plans.

Nothing is kept on the server between the upload and the save: the form itself carries the text
that was read and its warnings (`source`), the parts of the draft it does not show (`kept`:
place, basis, duties, recipients, signer …) and every editable field, so the corrected form
posts everything the plan needs. The API decides what a plan must say; this only moves values."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from web.kit import Refusal, dmy

# what the draft holds that the form does not show as fields; sent back as it was read
KEPT = ("place", "parent", "areas", "channels", "duties", "recipients", "signer")


@dataclass
class SourceLine:
    """One numbered line of the text that was read, with the warnings about it."""

    no: int
    text: str
    warnings: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"dong-{self.no}"


@dataclass
class ReadWarning:
    """What the reader was unsure of, and the line it is about (None: the whole document)."""

    line: int | None
    message: str


@dataclass
class Product:
    kind: str = ""
    target: str = ""


@dataclass
class TaskRow:
    ref: str = ""
    title: str = ""
    lead: str = ""  # bodies separated by ';' (or new lines), as the plans room's task row takes them
    coordinating: str = ""
    timeline: str = ""
    products: list[Product] = field(default_factory=list)
    written: str = ""  # the products as the document wrote them
    line: int | None = None
    group: bool = False
    area: str = ""
    channels: str = ""  # vocabulary keys, comma-separated
    drop: bool = False  # "Bỏ nhiệm vụ này khi lưu": a row the reader took for a task by mistake
    source: str = ""  # the plans room's row names the stored task it edits: none here, nothing is stored


@dataclass
class Review:
    file: str
    lines: list[tuple[int, str]]  # (line number, text) as read
    warnings: list[ReadWarning]
    number: str = ""
    title: str = ""
    issuer: str = ""
    issuer_name: str = ""
    period: str = ""
    date: str = ""  # dd/mm/yyyy, as officials write it
    tasks: list[TaskRow] = field(default_factory=list)
    kept: dict[str, Any] = field(default_factory=dict)

    # ---- from the parse API's answer -------------------------------------------------------

    @classmethod
    def of_parse(cls, answer: Mapping[str, Any]) -> Review:
        draft = answer["draft"]
        return cls(
            file=str(answer.get("file") or ""),
            lines=[(int(line["no"]), str(line["text"])) for line in answer.get("lines") or []],
            warnings=[ReadWarning(w.get("line"), str(w["message"])) for w in draft.get("warnings") or []],
            number=draft.get("number") or "",
            title=draft.get("title") or "",
            issuer=(draft.get("issuer") or {}).get("code") or "",
            issuer_name=(draft.get("issuer") or {}).get("name") or "",
            period=draft.get("period") or "",
            date=dmy(draft.get("date")),
            tasks=[_task_of_draft(task) for task in draft.get("tasks") or []],
            kept={name: draft.get(name) for name in KEPT},
        )

    # ---- from the posted form ---------------------------------------------------------------

    @classmethod
    def of_form(cls, form: Mapping[str, Any]) -> Review:
        source = _json(form.get("source"), {})
        text = _text_of(form)
        return cls(
            file=str(source.get("file") or ""),
            lines=[(int(no), str(text)) for no, text in source.get("lines") or []],
            warnings=[ReadWarning(line, str(message)) for line, message in source.get("warnings") or []],
            number=text("number"),
            title=text("title"),
            issuer=text("issuer"),
            issuer_name=text("issuer_name"),
            period=text("period"),
            date=text("date"),
            tasks=[_task_of_form(text, i) for i in range(_count(text("task_count")))],
            kept={k: v for k, v in _json(form.get("kept"), {}).items() if k in KEPT},
        )

    @property
    def source_json(self) -> str:
        """The read text and its warnings, for the form's hidden field."""
        warnings = [[w.line, w.message] for w in self.warnings]
        return json.dumps({"file": self.file, "lines": self.lines, "warnings": warnings}, ensure_ascii=False)

    @property
    def kept_json(self) -> str:
        return json.dumps(self.kept, ensure_ascii=False)

    def source_lines(self) -> list[SourceLine]:
        """The read text, one entry per line number (a line a text file laid out in two columns
        gave twice is shown once), with the warnings about each line."""
        shown: dict[int, SourceLine] = {}
        for no, text in self.lines:
            if no in shown:
                shown[no].text += " · " + text
            else:
                shown[no] = SourceLine(no, text)
        for warning in self.warnings:
            if warning.line in shown:
                shown[warning.line].warnings.append(warning.message)
        return list(shown.values())

    @property
    def year(self) -> str:
        """The plan's year (for the examples of timelines), from its period '2026-H2'."""
        return self.period[:4] if self.period[:4].isdigit() else ""

    def field_names(self) -> list[str]:
        """Every field the form shows a refusal next to (the others are listed above the form)."""
        names = ["number", "date", "title", "issuer", "period"]
        for i, task in enumerate(self.tasks):
            at = f"tasks[{i}]"
            names += [at, *(f"{at}.{n}" for n in ("ref", "title", "lead", "coordinating", "timeline", "products"))]
            for p in range(len(task.products)):
                names += [f"{at}.products[{p}]", f"{at}.products[{p}].kind", f"{at}.products[{p}].target"]
        return names

    def warnings_at(self, line: int | None) -> list[str]:
        return [w.message for w in self.warnings if line is not None and w.line == line]

    # ---- to the plans API ---------------------------------------------------------------------

    def plan(self) -> Sent:
        """The body of POST /api/plans, and where each of its fields is on the form (a task left
        out or an empty product row moves the indexes the API names in a refusal)."""
        places: dict[str, str] = {}
        tasks: list[dict[str, Any]] = []
        for index, row in enumerate(self.tasks):
            if row.drop:
                continue
            at = f"tasks[{len(tasks)}]"
            places[at] = f"tasks[{index}]"
            products: list[dict[str, Any]] = []
            for p, product in enumerate(row.products):
                if product.kind and product.target:  # a kind without a number is no target
                    places[f"{at}.products[{len(products)}]"] = f"tasks[{index}].products[{p}]"
                    products.append({"kind": product.kind, "target": _number_or_text(product.target)})
            tasks.append(
                {
                    "ref": row.ref,
                    "title": row.title,
                    "group": row.group,
                    "lead": _entries(row.lead),
                    "coordinating": _entries(row.coordinating),
                    "timeline": row.timeline or None,
                    "products": products,
                    "area": row.area or None,
                    "channels": [c for c in row.channels.split(",") if c],
                }
            )
        body = {
            **self.kept,
            "number": self.number,
            "title": self.title,
            "issuer": self.issuer,
            "period": self.period,
            "date": _iso(self.date) or None,
            "tasks": tasks,
        }
        return Sent(body, places)


@dataclass
class Sent:
    body: dict[str, Any]
    places: dict[str, str]  # a field prefix as the API names it → as the form names it

    def on_form(self, refusal: Refusal) -> Refusal:
        """The API's refusal with its field names turned into the form's."""
        return refusal.placed(self._place)

    def _place(self, name: str) -> str:
        prefixes = [p for p in self.places if name == p or name.startswith((p + ".", p + "["))]
        if not prefixes:
            return name
        longest = max(prefixes, key=len)
        return self.places[longest] + name[len(longest) :]


def _task_of_draft(task: Mapping[str, Any]) -> TaskRow:
    kinds = list(dict.fromkeys(task.get("product_kinds") or []))
    return TaskRow(
        ref=str(task.get("ref") or ""),
        title=task.get("title") or "",
        lead="; ".join(task.get("lead") or []),
        coordinating="; ".join(task.get("coordinating") or []),
        timeline=task.get("timeline_text") or "",
        products=[Product(kind) for kind in kinds] + [Product()],
        written="; ".join(task.get("products") or []),
        line=task.get("line"),
        group=bool(task.get("group")),
        area=task.get("area") or "",
        channels=",".join(task.get("channels") or []),
    )


def _task_of_form(text: Callable[[str], str], i: int) -> TaskRow:
    at = f"tasks[{i}]"
    products = [
        Product(text(f"{at}.products[{p}].kind"), text(f"{at}.products[{p}].target"))
        for p in range(_count(text(f"{at}.product_count")))
    ]
    line = text(f"{at}.line")
    return TaskRow(
        ref=text(f"{at}.ref"),
        title=text(f"{at}.title"),
        lead=text(f"{at}.lead"),
        coordinating=text(f"{at}.coordinating"),
        timeline=text(f"{at}.timeline"),
        products=products,
        written=text(f"{at}.written"),
        line=int(line) if line.isdigit() else None,
        group=text(f"{at}.group") == "1",
        area=text(f"{at}.area"),
        channels=text(f"{at}.channels"),
        drop=text(f"{at}.remove") == "1",
    )


def _text_of(form: Mapping[str, Any]) -> Callable[[str], str]:
    """A reader of the form's text fields, trimmed ('' for a missing field or a file)."""

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    return text


def _json(value: Any, default: dict[str, Any]) -> dict[str, Any]:
    try:
        loaded = json.loads(value) if isinstance(value, str) else default
    except ValueError:
        return default
    return loaded if isinstance(loaded, dict) else default


def _count(value: str, most: int = 500) -> int:
    return min(int(value), most) if value.isdigit() else 0


def _entries(text: str) -> list[str]:
    """Bodies separated by ';' or new lines ('Phòng Văn hóa - Xã hội; UBND các xã, phường')."""
    return [entry.strip() for entry in re.split(r"[;\r\n]+", text) if entry.strip()]


def _number_or_text(value: str) -> int | str:
    """A count as a number; anything else as typed, for the API to refuse in its own words."""
    digits = value.replace(".", "").replace(" ", "")
    return int(digits) if digits.isdigit() else value


def _iso(day: str) -> str:
    """dd/mm/yyyy as the API's ISO date; anything else as typed, for the API to refuse."""
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", day)
    return f"{match[3]}-{int(match[2]):02}-{int(match[1]):02}" if match else day
