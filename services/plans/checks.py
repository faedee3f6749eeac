"""A submitted plan checked against what is stored: the units it names, looked up for
domain.check_plan; its number, unused by its issuer that year; its parent plan, issued by the
issuer or a unit above it, with no loop through the parents. Every problem is raised at once,
as an InputError naming its field."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.plans import models as m
from services.plans.directory_api import get_unit_or_raise, unit_of
from services.plans.domain import (
    ADMIN_LEVELS,
    BODY_LEVELS,
    CheckedPlan,
    Directory,
    PlanIn,
    Unit,
    check_plan,
    period_start,
    referenced_codes,
)
from shared.errors import FieldProblem, InputError


async def directory(session: AsyncSession, plan: PlanIn) -> Directory:
    """The units `plan` may name: those it names by code, and its issuer's children and bodies."""
    u = m.units
    rows = (await session.execute(select(u).where(u.c.code.in_(referenced_codes(plan))))).all()
    below = (await session.execute(select(u).where(u.c.parent == plan.issuer).order_by(u.c.code))).all()
    starts = period_start(plan.period)
    return Directory(
        units={r.code: unit_of(r) for r in rows},
        # children that still existed when the plan's period began (legacy communes for 2025 plans)
        children=[
            unit_of(r) for r in below if r.level in ADMIN_LEVELS and (r.valid_to is None or r.valid_to >= starts)
        ],
        bodies=[unit_of(r) for r in below if r.level in BODY_LEVELS],
    )


async def check(session: AsyncSession, *, body: PlanIn, plan_id: uuid.UUID | None) -> CheckedPlan:
    """`body` ready to store as plan `plan_id` (None: a new plan), or InputError."""
    checked = check_plan(body, directory=await directory(session, body))
    if not isinstance(checked, CheckedPlan):
        raise InputError(checked)
    problems: list[FieldProblem] = []
    if body.number:
        p = m.plans
        clash = select(p.c.id).where(
            p.c.issuer == body.issuer, p.c.number == body.number, p.c.year == checked.period.year
        )
        if plan_id is not None:
            clash = clash.where(p.c.id != plan_id)
        if (await session.execute(clash)).first():
            problems.append(
                FieldProblem(
                    "number", f"{checked.issuer.name} đã có kế hoạch số {body.number} năm {checked.period.year}"
                )
            )
    if body.parent_plan is not None:
        problems += await _parent_problems(session, body.parent_plan, checked.issuer, plan_id)
    if problems:
        raise InputError(problems)
    return checked


async def _parent_problems(
    session: AsyncSession, parent_id: uuid.UUID, issuer: Unit, plan_id: uuid.UUID | None
) -> list[FieldProblem]:
    parent = (await session.execute(select(m.plans).where(m.plans.c.id == parent_id))).first()
    if parent is None:
        return [FieldProblem("parent_plan", f"không có kế hoạch {parent_id}")]
    parent_issuer = await get_unit_or_raise(session, parent.issuer)
    if not issuer.is_under(parent_issuer):
        return [FieldProblem("parent_plan", f"kế hoạch cấp trên phải do {issuer.name} hoặc đơn vị cấp trên ban hành")]
    seen: set[uuid.UUID] = set()
    cursor: Any = parent  # walk up: a plan may not implement itself through its parents
    while cursor is not None:
        if cursor.id == plan_id or cursor.id in seen:
            return [FieldProblem("parent_plan", "liên kết kế hoạch cấp trên tạo thành vòng lặp")]
        seen.add(cursor.id)
        cursor = (
            (await session.execute(select(m.plans).where(m.plans.c.id == cursor.parent_plan_id))).first()
            if cursor.parent_plan_id
            else None
        )
    return []
