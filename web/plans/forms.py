"""The plan form of the plans room: what an official typed, read from the posted form into the
body the plans API takes (POST /api/plans, PUT /api/plans/{id}, POST /api/plans/{id}/amend); a
stored plan shown back in the form; and the API's refusals placed next to the inputs, whose
names are the API's field names (`tasks[1].timeline`, `tasks[0].products[0].target`).

Rows are renumbered before the plan is sent (blank and removed rows dropped), and the form is
shown again in that order, so the API's `tasks[i]` is the i-th row on the page."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from web.kit import Refusal

_TASK_INPUT = re.compile(r"^tasks\[(\d+)\]\.(ref|title|lead|coordinating|timeline|source|remove)$")
_PRODUCT_INPUT = re.compile(r"^tasks\[(\d+)\]\.products\[(\d+)\]\.(kind|target)$")
_LIST_ITEM = re.compile(r"^(tasks\[\d+\]\.(?:lead|coordinating))\[\d+\]$")
_SEPARATOR = re.compile(r"[;\n]")
CHILDREN_PHRASE = "UBND các xã, phường"  # how the form writes the API's "children" (every child unit)
# what a stored plan says beyond the form's fields, sent back unchanged when it is saved
PLAN_KEPT = (
    "date",
    "place",
    "parent_plan",
    "parent",
    "purpose",
    "areas",
    "channels",
    "budget",
    "duties",
    "recipients",
    "signer",
    "implementing_due",
    "due_rules",
)
TASK_KEPT = ("group", "area", "channels")


@dataclass
class ProductRow:
    kind: str = ""
    target: str = ""

    def body(self) -> dict[str, Any]:
        target = self.target.strip()
        if not target:
            return {"kind": self.kind}  # the API says the target is missing, next to it
        return {"kind": self.kind, "target": int(target) if target.isdigit() else target}


@dataclass
class TaskRow:
    """One task as typed: leads and coordinating bodies separated by ';' or new lines."""

    ref: str = ""
    title: str = ""
    lead: str = ""
    coordinating: str = ""
    timeline: str = ""
    products: list[ProductRow] = field(default_factory=list)
    source: str = ""  # the ref of the stored task this row edits (keeps its content area, channels)
    removed: bool = False

    def is_blank(self) -> bool:
        typed = (self.title, self.lead, self.coordinating, self.timeline, *(p.kind for p in self.products))
        return not any(value.strip() for value in typed)

    def body(self, stored: Mapping[str, Any] | None) -> dict[str, Any]:
        kept = {k: stored[k] for k in TASK_KEPT if stored and k in stored}
        return {
            **kept,
            "ref": self.ref,
            "title": self.title,
            "lead": _entries(self.lead),
            "coordinating": _entries(self.coordinating),
            "timeline": self.timeline.strip() or None,
            "products": [p.body() for p in self.products if p.kind],
        }

    def with_blank_product(self) -> TaskRow:
        return replace(self, products=[*self.products, ProductRow()])


def _entries(text: str) -> list[str]:
    return [entry.strip() for entry in _SEPARATOR.split(text) if entry.strip()]


@dataclass
class PlanForm:
    number: str = ""
    title: str = ""
    issuer: str = ""
    period: str = ""
    tasks: list[TaskRow] = field(default_factory=list)
    blanks: int = 0  # empty rows the posted form had (shown again, and one more, on "add a task")

    @classmethod
    def posted(cls, form: Mapping[str, Any]) -> PlanForm:
        """The form as posted, its task rows in the order of their numbers, blank and removed
        rows left out."""
        rows: dict[int, TaskRow] = {}
        products: dict[tuple[int, int], ProductRow] = {}
        for name, value in form.items():
            text = str(value)
            if found := _TASK_INPUT.match(name):
                row = rows.setdefault(int(found[1]), TaskRow())
                if found[2] == "remove":
                    row.removed = True
                else:
                    setattr(row, found[2], text.strip())
            elif found := _PRODUCT_INPUT.match(name):
                rows.setdefault(int(found[1]), TaskRow())
                setattr(products.setdefault((int(found[1]), int(found[2])), ProductRow()), found[3], text.strip())
        for (task, _), product in sorted(products.items()):
            rows[task].products.append(product)
        kept = [row for _, row in sorted(rows.items()) if not row.removed and not row.is_blank()]
        blanks = sum(1 for row in rows.values() if not row.removed and row.is_blank())
        for row in kept:
            row.products = [p for p in row.products if p.kind or p.target]
        return cls(
            number=str(form.get("number", "")).strip(),
            title=str(form.get("title", "")).strip(),
            issuer=str(form.get("issuer", "")).strip(),
            period=str(form.get("period", "")).strip(),
            tasks=kept,
            blanks=blanks,
        )

    @classmethod
    def of_plan(cls, plan: Mapping[str, Any], names: Mapping[str, str]) -> PlanForm:
        """A stored plan in the form; `names` are the bodies and child units the API also
        accepts by name (other units stay written by their code)."""
        return cls(
            number=plan.get("number") or "",
            title=plan.get("title") or "",
            issuer=plan.get("issuer") or "",
            period=plan.get("period") or "",
            tasks=[
                TaskRow(
                    ref=task["ref"],
                    title=task["title"],
                    lead="; ".join(_written(entry, names) for entry in task.get("lead_text") or task.get("lead") or []),
                    coordinating="; ".join(_written(code, names) for code in task.get("coordinating") or []),
                    timeline=(task.get("timeline") or {}).get("text", ""),
                    products=[ProductRow(p["kind"], str(p["target"])) for p in task.get("products") or []],
                    source=task["ref"],
                )
                for task in plan.get("tasks") or []
            ],
        )

    def body(self, stored: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What the API takes: the form's fields over what the stored plan already says."""
        stored_tasks = {t["ref"]: t for t in (stored or {}).get("tasks") or []}
        return {
            **{k: stored[k] for k in PLAN_KEPT if stored and k in stored},
            "number": self.number,
            "title": self.title,
            "issuer": self.issuer,
            "period": self.period,
            "tasks": [row.body(stored_tasks.get(row.source)) for row in self.tasks],
        }

    def for_typing(self, blank_rows: int) -> PlanForm:
        """The form to show: every task with a free product line, and `blank_rows` empty tasks
        (numbered on) for adding tasks without JavaScript."""
        start = len(self.tasks)
        blanks = [blank_task(start + i) for i in range(blank_rows)]
        return replace(self, tasks=[row.with_blank_product() for row in self.tasks] + blanks)


def blank_task(index: int) -> TaskRow:
    """An empty task row, its number filled in (the row's place, counted from 1)."""
    return TaskRow(ref=str(index + 1), products=[ProductRow()])


def _written(entry: str, names: Mapping[str, str]) -> str:
    if entry == "children":
        return CHILDREN_PHRASE
    return names.get(entry, entry)


def placed(refusal: Refusal) -> Refusal:
    """The refusal with the messages of one entry of a list (`tasks[1].lead[0]`) placed on the
    input that holds the whole list (`tasks[1].lead`)."""
    return refusal.placed(lambda name: found[1] if (found := _LIST_ITEM.match(name)) else name)


def shown_fields(form: PlanForm) -> list[str]:
    """The names of the inputs the form shows next to their refusal."""
    names = ["number", "title", "issuer", "period", "tasks"]
    for i, task in enumerate(form.tasks):
        names += [f"tasks[{i}].{k}" for k in ("ref", "title", "lead", "coordinating", "timeline", "products")]
        names += [f"tasks[{i}].products[{j}].{k}" for j in range(len(task.products)) for k in ("kind", "target")]
    return names
