"""The plan tables, read and written: one plan with its tasks as JSON, its tasks as the event
contract carries them, the search over plans, the versions an amendment replaced, and a checked
plan's row and task rows. The rules of what may be stored are in checks.py and lifecycle.py.

Who reads which plan: a caller reads the plans of the units in its subtree, and the published
(not draft) plans of the units above it — the plans it implements; any other plan answers 404,
as if absent. Writing is checked in lifecycle.py (Right.plan on the issuer)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.plans import models as m
from services.plans.directory_api import unit_of
from services.plans.domain import CheckedPlan, PlanIn
from shared import pages
from shared.access import EVERYWHERE, Caller, within
from shared.errors import FieldProblem, InputError, NotFound
from shared.events import PlanTask
from shared.text import normalize
from shared.units import under, within_path

p, t = m.plans, m.plan_tasks


def ancestors(path: str) -> list[str]:
    """The paths above `path`: '52.21787.X' → ['52', '52.21787']."""
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def readable(caller: Caller, *, issuer_path: str, status: str) -> bool:
    """True if `caller` may read a plan of the unit at `issuer_path` in `status`: one of its
    subtree, or one its ancestors published to it (a commune reads the province plan it
    implements, not the province's drafts)."""
    return caller.covers(issuer_path) or (status != "draft" and within(caller.unit_path, issuer_path))


async def issuer_path(session: AsyncSession, plan: Any) -> str:
    """The path of the unit that issues `plan` (a plan row)."""
    path = (await session.execute(select(m.units.c.path).where(m.units.c.code == plan.issuer))).scalar()
    return str(path) if path is not None else str(plan.issuer)


async def get_or_raise(
    session: AsyncSession, *, plan_id: uuid.UUID, lock: bool = False, caller: Caller | None = None
) -> Any:
    """The plan's row (locked for the transaction with `lock`); 404 if there is none, or if
    `caller` is given and may not read it (another subtree's plan is as if absent)."""
    query = select(p).where(p.c.id == plan_id)
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None or (
        caller is not None and not readable(caller, issuer_path=await issuer_path(session, row), status=row.status)
    ):
        raise NotFound(f"không có kế hoạch {plan_id}")
    return row


async def tasks(session: AsyncSession, *, plan_id: uuid.UUID) -> list[Any]:
    """The plan's task rows in their order, group headings included."""
    return list((await session.execute(select(t).where(t.c.plan_id == plan_id).order_by(t.c.position))).all())


async def plan_tasks(session: AsyncSession, rows: list[Any]) -> list[PlanTask]:
    """Stored tasks as the event contract carries them (group headings are not tasks)."""
    codes = {c for row in rows for c in (*row.lead, *row.coordinating)}
    units = {
        r.code: unit_of(r) for r in (await session.execute(select(m.units).where(m.units.c.code.in_(codes)))).all()
    }
    return [
        PlanTask(
            ref=row.ref,
            title=row.title,
            lead=[units[c].ref() for c in row.lead],
            coordinating=[units[c].ref() for c in row.coordinating],
            schedule=row.schedule,
            products=row.products,
            area=row.area,
            channels=row.channels,
        )
        for row in rows
        if not row.is_group
    ]


async def plan_json(session: AsyncSession, *, plan_id: uuid.UUID, caller: Caller | None = None) -> dict[str, Any]:
    """The plan as the API shows it: its head, its content and every task (404 if `caller` may
    not read it)."""
    plan = await get_or_raise(session, plan_id=plan_id, caller=caller)
    rows = await tasks(session, plan_id=plan_id)
    return {
        "id": str(plan.id),
        "number": plan.number,
        "title": plan.title,
        "issuer": plan.issuer,
        "period": plan.period,
        "status": plan.status,
        "version": plan.version,
        "issued_on": plan.issued_on.isoformat() if plan.issued_on else None,
        "issued_at": plan.issued_at.isoformat() if plan.issued_at else None,
        "parent_plan": str(plan.parent_plan_id) if plan.parent_plan_id else None,
        "implementing_due": plan.implementing_due.isoformat() if plan.implementing_due else None,
        **plan.content,
        "tasks": [
            {
                "ref": row.ref,
                "title": row.title,
                "group": row.is_group,
                "lead": row.lead,
                "lead_text": row.lead_text,
                "coordinating": row.coordinating,
                "timeline": None if row.is_group else row.schedule,
                "products": row.products,
                "area": row.area,
                "channels": row.channels,
            }
            for row in rows
        ],
    }


async def list_(
    session: AsyncSession,
    *,
    caller: Caller,
    issuer: str | None = None,
    within: str | None = None,
    period: str | None = None,
    status: str | None = None,
    q: str | None = None,
    page: pages.Ask,
) -> pages.Page:
    """A page of the plans `caller` may read, newest first, with their issuer's name: of one issuer or of any
    unit in the subtree `within`, of a period, in a status, whose number, title, purpose or tasks
    hold every word of `q` (without diacritics). The filters' units are checked by the route."""
    u = m.units
    query = select(p, u.c.name.label("issuer_name")).join(u, u.c.code == p.c.issuer)
    if caller.unit_path != EVERYWHERE:
        query = query.where(
            within_path(u.c.path, caller.unit_path)
            | (u.c.path.in_(ancestors(caller.unit_path)) & (p.c.status != "draft"))
        )
    if issuer:
        query = query.where(p.c.issuer == issuer)
    if within:
        query = query.where(under(u.c.path, within))
    if period:
        query = query.where(p.c.period == period)
    if status:
        query = query.where(p.c.status == status)
    if q:
        for word in normalize(q).split():
            query = query.where(p.c.search.contains(word))
    if (after := page.where(p.c.created_at, p.c.id, descending=True)) is not None:
        query = query.where(after)
    rows = (await session.execute(query.order_by(p.c.created_at.desc(), p.c.id.desc()).limit(page.limit + 1))).all()
    return page.cut(rows, lambda r: (r.created_at, r.id))


def summary_json(row: Any) -> dict[str, Any]:
    """A plan in a list: its head, without content and tasks."""
    return {
        "id": str(row.id),
        "number": row.number,
        "title": row.title,
        "issuer": row.issuer,
        "issuer_name": row.issuer_name,
        "period": row.period,
        "status": row.status,
        "version": row.version,
        "issued_on": row.issued_on.isoformat() if row.issued_on else None,
        "parent_plan": str(row.parent_plan_id) if row.parent_plan_id else None,
    }


LISTED = pages.Key("plans", (datetime, uuid.UUID))  # newest first
VERSIONS = pages.Key("plan-versions", (int,))  # oldest first


async def versions(session: AsyncSession, *, plan_id: uuid.UUID, caller: Caller, page: pages.Ask) -> pages.Page:
    """A page of the versions amendments replaced, oldest first, each with what the next one changed."""
    await get_or_raise(session, plan_id=plan_id, caller=caller)
    v = m.plan_versions
    query = select(v).where(v.c.plan_id == plan_id)
    if (after := page.where(v.c.version)) is not None:
        query = query.where(after)
    rows = (await session.execute(query.order_by(v.c.version).limit(page.limit + 1))).all()
    return page.cut(rows, lambda r: (r.version,))


def version_json(row: Any) -> dict[str, Any]:
    return {
        "version": row.version,
        "changes": row.changes,
        "snapshot": row.snapshot,
        "replaced_at": row.created_at.isoformat(),
    }


# --- writing ---------------------------------------------------------------------------------

# what a plan says beyond its head, stored as one JSON document
_CONTENT = {
    "place",
    "date",
    "parent",
    "purpose",
    "areas",
    "channels",
    "budget",
    "duties",
    "recipients",
    "signer",
    "due_rules",
}


def plan_values(body: PlanIn, checked: CheckedPlan) -> dict[str, Any]:
    """The plan row's columns from a checked plan (status and version are the caller's)."""
    return {
        "number": body.number.strip(),
        "title": body.title.strip(),
        "issuer": body.issuer,
        "period": checked.period.code,
        "year": checked.period.year,
        "issued_on": body.date,
        "parent_plan_id": body.parent_plan,
        "parent_ref": body.parent.model_dump(mode="json") if body.parent else None,
        "content": body.model_dump(mode="json", include=_CONTENT),
        "implementing_due": body.implementing_due,
        "search": normalize(" ".join([body.number, body.title, body.purpose, *(t.title for t in body.tasks)])),
    }


async def write_plan(session: AsyncSession, statement: Any) -> None:
    """The plan row; two requests racing for one number get a 422 on `number`, not a 500."""
    try:
        async with session.begin_nested():
            await session.execute(statement)
    except IntegrityError as exc:
        if "plans_number_once" not in str(exc.orig):
            raise
        raise InputError([FieldProblem("number", "số kế hoạch này đã được dùng trong năm")]) from None


async def write_tasks(session: AsyncSession, *, plan_id: uuid.UUID, checked: CheckedPlan) -> None:
    """The plan's task rows, replacing any it had."""
    await session.execute(delete(t).where(t.c.plan_id == plan_id))
    rows = [
        {
            "plan_id": plan_id,
            "ref": c.task.ref,
            "position": i,
            "title": c.task.title,
            "is_group": c.is_group,
            "lead": [u.code for u in c.task.lead],
            "lead_text": c.lead_text,
            "coordinating": [u.code for u in c.task.coordinating],
            "schedule": c.task.schedule.model_dump(mode="json"),
            "products": [product.model_dump() for product in c.task.products],
            "area": c.task.area,
            "channels": c.task.channels,
        }
        for i, c in enumerate(checked.tasks)
    ]
    await session.execute(insert(t), rows)
