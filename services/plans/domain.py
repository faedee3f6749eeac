"""Pure rules of plans: what a plan must say to be accepted, and how "children" expands.

No I/O: the caller passes the units it looked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from shared.errors import FieldProblem
from shared.events import PlanTask, ProductTarget, UnitLevel, UnitRef
from shared.periods import Period, PeriodError
from shared.products import PRODUCT_KINDS
from shared.timelines import Schedule, TimelineError, coerce_schedule, occurrences

CHILDREN = "children"  # "UBND các xã": every direct child administrative unit of the issuer
ADMIN_LEVELS = ("province", "district", "commune")


class TaskIn(BaseModel):
    ref: str = Field(min_length=1)
    title: str = Field(min_length=1)
    lead: list[str] = Field(min_length=1)
    coordinating: list[str] = []
    timeline: str | dict[str, Any]
    products: list[ProductTarget] = []


class PlanIn(BaseModel):
    number: str
    title: str = Field(min_length=1)
    issuer: str = Field(min_length=1)
    period: str
    tasks: list[TaskIn] = Field(min_length=1)


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    level: UnitLevel
    parent: str | None
    path: str

    def ref(self) -> UnitRef:
        return UnitRef(code=self.code, path=self.path, name=self.name)

    def is_under(self, ancestor: Unit) -> bool:
        return self.path == ancestor.path or self.path.startswith(ancestor.path + ".")


@dataclass(frozen=True)
class CheckedPlan:
    period: Period
    issuer: Unit
    tasks: list[PlanTask]


def check_plan(plan: PlanIn, *, units: dict[str, Unit], children: list[Unit]) -> CheckedPlan | list[FieldProblem]:
    """Resolve units and timelines; return the plan ready to store, or every problem found."""
    problems: list[FieldProblem] = []
    issuer = units.get(plan.issuer)
    if issuer is None:
        problems.append(FieldProblem("issuer", f"không có đơn vị mã {plan.issuer!r}"))
    try:
        period = Period.parse(plan.period)
    except PeriodError as exc:
        problems.append(FieldProblem("period", str(exc)))
        period = None
    refs = [task.ref for task in plan.tasks]
    for index, ref in enumerate(refs):
        if ref in refs[:index]:
            problems.append(FieldProblem(f"tasks[{index}].ref", f"số thứ tự {ref!r} bị trùng"))
    tasks: list[PlanTask] = []
    for index, task in enumerate(plan.tasks):
        at = f"tasks[{index}]"
        schedule: Schedule | None = None
        try:
            schedule = coerce_schedule(task.timeline)
            if period is not None:
                occurrences(schedule, period)
        except (TimelineError, ValueError) as exc:
            problems.append(FieldProblem(f"{at}.timeline", str(exc)))
        lead = _resolve(task.lead, f"{at}.lead", units=units, children=children, issuer=issuer, problems=problems)
        coordinating = _resolve(
            task.coordinating, f"{at}.coordinating", units=units, children=children, issuer=issuer, problems=problems
        )
        for p_index, product in enumerate(task.products):
            if product.kind not in PRODUCT_KINDS:
                problems.append(
                    FieldProblem(
                        f"{at}.products[{p_index}].kind", f"loại sản phẩm không có trong danh mục: {product.kind!r}"
                    )
                )
        if schedule is not None:
            tasks.append(
                PlanTask(
                    ref=task.ref,
                    title=task.title,
                    lead=lead,
                    coordinating=coordinating,
                    schedule=schedule,
                    products=task.products,
                )
            )
    if problems or issuer is None or period is None:
        return problems
    return CheckedPlan(period=period, issuer=issuer, tasks=tasks)


def _resolve(
    codes: list[str],
    field: str,
    *,
    units: dict[str, Unit],
    children: list[Unit],
    issuer: Unit | None,
    problems: list[FieldProblem],
) -> list[UnitRef]:
    resolved: dict[str, UnitRef] = {}
    for index, code in enumerate(codes):
        if code == CHILDREN:
            if not children:
                problems.append(FieldProblem(f"{field}[{index}]", "đơn vị ban hành không có đơn vị trực thuộc"))
            resolved.update((child.code, child.ref()) for child in children)
            continue
        unit = units.get(code)
        if unit is None:
            problems.append(FieldProblem(f"{field}[{index}]", f"không có đơn vị mã {code!r}"))
        elif issuer is not None and not unit.is_under(issuer):
            problems.append(FieldProblem(f"{field}[{index}]", f"đơn vị {unit.name} không thuộc {issuer.name}"))
        else:
            resolved[unit.code] = unit.ref()
    return list(resolved.values())


def unit_codes(plan: PlanIn) -> set[str]:
    codes = {plan.issuer}
    for task in plan.tasks:
        codes.update(c for c in (*task.lead, *task.coordinating) if c != CHILDREN)
    return codes
