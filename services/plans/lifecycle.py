"""A plan's life: a draft (dự thảo) is stored and edited, issued (ban hành), amended (điều chỉnh)
as new versions, and closed (kết thúc); a child unit's implementing plan starts as a draft
pre-filled from its parent plan. Each function does one step in the caller's transaction and
returns the plan's id with the events the step causes; which step a status allows is
domain.next_status, what a plan must say is checks.check.

Every step is the caller's: it needs Right.plan on the plan's issuer (a commune head drafts and
issues its commune's plans, a province head the province's and, below it, its communes'); a
plan the caller cannot read is as if absent (404), one it reads without the right is 403."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.plans import cascade, checks, storage
from services.plans import models as m
from services.plans.directory_api import get_unit_or_raise
from services.plans.domain import (
    PlanIn,
    amendment_problems,
    check_implementable,
    child_plan,
    implementing_due,
    next_status,
    task_changes,
)
from shared.access import Caller, Right
from shared.clock import vn_date
from shared.errors import FieldProblem, InputError, NotFound
from shared.events import Event, PlanAmended, PlanClosed, PlanDrafted, PlanIssued, TaskChanges

p = m.plans


@dataclass(frozen=True)
class Step:
    plan_id: uuid.UUID
    events: list[Event]


@dataclass(frozen=True)
class Amendment(Step):
    changes: TaskChanges


def _named(plan: Any) -> str:
    """How refusals name a plan: its number, or its id while it has none."""
    return str(plan.number or plan.id)


async def _require_plan_right(session: AsyncSession, caller: Caller, plan: Any) -> None:
    """404 for a plan the caller cannot even read (as if absent, like every service's objects
    outside one's subtree), 403 for one it reads without the right to change it."""
    issuer = await storage.issuer_path(session, plan)
    if not storage.readable(caller, issuer_path=issuer, status=plan.status):
        raise NotFound(f"không có kế hoạch {plan.id}")
    caller.require(Right.plan, issuer)


async def create(session: AsyncSession, *, body: PlanIn, now: datetime, caller: Caller) -> Step:
    """Store a draft plan (plan.drafted) of `body.issuer`, on which the caller needs Right.plan; a
    plan that cannot be understood stores nothing."""
    issuer = (await session.execute(select(m.units.c.path).where(m.units.c.code == body.issuer))).scalar()
    if issuer is not None:  # an unknown issuer is the checks' 422
        caller.require(Right.plan, issuer)
    checked = await checks.check(session, body=body, plan_id=None)
    plan_id = uuid.uuid4()
    values = storage.plan_values(body, checked)
    await storage.write_plan(session, insert(p).values(id=plan_id, status="draft", **values))
    await storage.write_tasks(session, plan_id=plan_id, checked=checked)
    drafted = PlanDrafted(
        plan_id=plan_id, number=body.number, title=body.title, issuer=body.issuer, period=checked.period.code
    )
    return Step(plan_id, [Event("plan.drafted", unit_path=checked.issuer.path, at=now, payload=drafted)])


async def update_draft(session: AsyncSession, *, plan_id: uuid.UUID, body: PlanIn, caller: Caller) -> Step:
    """Replace a draft with `body` (its issuer stays); an issued plan is amended instead."""
    plan = await storage.get_or_raise(session, plan_id=plan_id, lock=True)
    await _require_plan_right(session, caller, plan)
    status = next_status(plan.status, "edit", plan=_named(plan))
    if body.issuer != plan.issuer:
        raise InputError([FieldProblem("issuer", "không đổi được đơn vị ban hành của kế hoạch")])
    checked = await checks.check(session, body=body, plan_id=plan_id)
    await storage.write_plan(
        session, update(p).where(p.c.id == plan_id).values(status=status, **storage.plan_values(body, checked))
    )
    await storage.write_tasks(session, plan_id=plan_id, checked=checked)
    return Step(plan_id, [])


async def issue(session: AsyncSession, *, plan_id: uuid.UUID, now: datetime, caller: Caller) -> Step:
    """Issue a draft (plan.issued): its leads receive their tasks; the child units that lead a
    task owe an implementing plan; if it implements a parent plan, it fulfils its issuer's one."""
    plan = await storage.get_or_raise(session, plan_id=plan_id, lock=True)
    await _require_plan_right(session, caller, plan)
    status = next_status(plan.status, "issue", plan=_named(plan))
    issuer = await get_unit_or_raise(session, plan.issuer)
    tasks = await storage.plan_tasks(session, await storage.tasks(session, plan_id=plan_id))
    today = vn_date(now)
    await session.execute(
        update(p)
        .where(p.c.id == plan_id)
        .values(status=status, issued_at=func.now(), issued_on=func.coalesce(p.c.issued_on, today))
    )
    due = implementing_due(plan.implementing_due, today=today)
    await cascade.owe(session, plan_id=plan_id, issuer=plan.issuer, tasks=tasks, due=due)
    if plan.parent_plan_id:
        await cascade.fulfil(session, plan_id=plan_id, parent_plan_id=plan.parent_plan_id, issuer=plan.issuer)
    issued = PlanIssued(
        plan_id=plan.id,
        number=plan.number,
        title=plan.title,
        issuer=issuer.ref(),
        period=plan.period,
        tasks=tasks,
        version=plan.version,
        parent_plan_id=plan.parent_plan_id,
        due_rules=plan.content.get("due_rules"),
    )
    return Step(plan_id, [Event("plan.issued", unit_path=issuer.path, at=now, payload=issued)])


async def amend(session: AsyncSession, *, plan_id: uuid.UUID, body: PlanIn, now: datetime, caller: Caller) -> Amendment:
    """Amend an issued plan (plan.amended): the current version is kept with what changed, the
    plan becomes `body` as the next version; progress already reported stays with the tasks."""
    plan = await storage.get_or_raise(session, plan_id=plan_id, lock=True)
    await _require_plan_right(session, caller, plan)
    status = next_status(plan.status, "amend", plan=_named(plan))
    problems = amendment_problems(body, issuer=plan.issuer, period=plan.period)
    if problems:
        raise InputError(problems)
    before = await storage.plan_tasks(session, await storage.tasks(session, plan_id=plan_id))
    snapshot = await storage.plan_json(session, plan_id=plan_id)
    checked = await checks.check(session, body=body, plan_id=plan_id)
    after = checked.plan_tasks()
    changes = task_changes(before, after)
    version = plan.version + 1
    await session.execute(
        insert(m.plan_versions).values(
            plan_id=plan_id, version=plan.version, snapshot=snapshot, changes=changes.model_dump()
        )
    )
    values = storage.plan_values(body, checked)
    values["issued_on"] = body.date or plan.issued_on
    await storage.write_plan(
        session, update(p).where(p.c.id == plan_id).values(status=status, version=version, **values)
    )
    await storage.write_tasks(session, plan_id=plan_id, checked=checked)
    due = implementing_due(body.implementing_due, plan.implementing_due, today=vn_date(now))
    await cascade.owe(session, plan_id=plan_id, issuer=plan.issuer, tasks=after, due=due)
    amended = PlanAmended(
        plan_id=plan_id,
        number=body.number,
        title=body.title,
        issuer=checked.issuer.ref(),
        period=plan.period,
        version=version,
        tasks=after,
        changes=changes,
        due_rules=body.due_rules,
    )
    event = Event("plan.amended", unit_path=checked.issuer.path, at=now, payload=amended)
    return Amendment(plan_id, [event], changes)


async def close(session: AsyncSession, *, plan_id: uuid.UUID, now: datetime, caller: Caller) -> Step:
    """Close an issued plan (plan.closed); the tasks service then takes no more progress on it."""
    plan = await storage.get_or_raise(session, plan_id=plan_id, lock=True)
    await _require_plan_right(session, caller, plan)
    status = next_status(plan.status, "close", plan=_named(plan))
    issuer = await get_unit_or_raise(session, plan.issuer)
    await session.execute(update(p).where(p.c.id == plan_id).values(status=status, closed_at=func.now()))
    closed = PlanClosed(plan_id=plan_id, number=plan.number, issuer=issuer.ref())
    return Step(plan_id, [Event("plan.closed", unit_path=issuer.path, at=now, payload=closed)])


async def create_child(session: AsyncSession, *, plan_id: uuid.UUID, unit: str, now: datetime, caller: Caller) -> Step:
    """Store the draft of `unit`'s plan implementing plan `plan_id`, with the tasks it leads: the
    caller must read the parent plan (else 404) and hold Right.plan on `unit`."""
    parent = await storage.plan_json(session, plan_id=plan_id, caller=caller)
    child = await get_unit_or_raise(session, unit)
    caller.require(Right.plan, child.path)
    check_implementable(parent["status"])
    draft = child_plan(parent, child)
    if not draft["tasks"]:
        raise InputError([FieldProblem("unit", f"{child.name} không được giao nhiệm vụ nào trong kế hoạch này")])
    return await create(session, body=PlanIn.model_validate(draft), now=now, caller=caller)
