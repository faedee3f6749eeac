"""Notification rules as stored (quy tắc thông báo): what a plan or a unit set for itself (only
the items given), the rules in force for a unit and plan (the deployment's defaults, then the
plan's, then the unit's), and setting or removing a plan's or a unit's own. What each rule
means, and how the layers merge, is domain.py's.

Who may: the heads of a unit (or of a unit above it) set its rules. Notify does not know who
issued a plan, so a plan's rules belong to the unit of whoever first set them (its `owner_path`):
only the heads of that unit, or above it, change or remove them; they are read by the units in
its line (above it, and below it: the units that implement the plan)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import domain, units
from services.notify import models as m
from shared import audit
from shared.access import EVERYWHERE, Caller, Right, within
from shared.errors import FieldProblem, InputError, NotFound
from shared.settings import Settings

Scope = Literal["plan", "unit"]
r = m.rules


def defaults(settings: Settings) -> domain.Rules:
    return domain.Rules(due_soon_days=tuple(sorted(settings.due_soon_days, reverse=True)))


async def stored_rules(
    session: AsyncSession, *, unit_code: str | None, plan_id: uuid.UUID | None, unit_path: str | None = None
) -> dict[str, dict[str, Any]]:
    """The rules a unit and a plan set themselves, by scope ("unit", "plan"); one indexed lookup.
    A plan's rules reach only the units in the subtree of the unit that set them (`unit_path`
    given): a commune cannot mute a plan's reminders for its siblings."""
    wanted = []
    if unit_code:
        wanted.append(and_(r.c.scope == "unit", r.c.key == unit_code))
    if plan_id is not None:
        wanted.append(and_(r.c.scope == "plan", r.c.key == str(plan_id)))
    if not wanted:
        return {}
    rows = (await session.execute(select(r.c.scope, r.c.settings, r.c.owner_path).where(or_(*wanted)))).all()
    return {
        row.scope: row.settings
        for row in rows
        if row.scope == "unit" or unit_path is None or not row.owner_path or within(unit_path, row.owner_path)
    }


def in_force(settings: Settings, stored: dict[str, dict[str, Any]]) -> domain.Rules:
    """The defaults, overridden by the plan's rules, overridden by the unit's (`stored`)."""
    return defaults(settings).merged(stored.get("plan"), stored.get("unit"))


async def rules_for(
    session: AsyncSession, settings: Settings, *, unit_code: str, plan_id: uuid.UUID | None, unit_path: str | None
) -> domain.Rules:
    """The rules in force for a unit (its code and path) and plan."""
    stored = await stored_rules(session, unit_code=unit_code, plan_id=plan_id, unit_path=unit_path)
    return in_force(settings, stored)


def rules_json(rules: domain.Rules) -> dict[str, Any]:
    return {
        "assigned": rules.assigned,
        "coordinating": rules.coordinating,
        "due_soon_days": list(rules.due_soon_days),
        "overdue": rules.overdue,
        "escalate": rules.escalate,
        "escalate_after_days": rules.escalate_after_days,
        "digest": rules.digest,
        "digest_at": rules.digest_at.strftime("%H:%M"),
    }


async def get(
    session: AsyncSession, *, caller: Caller, settings: Settings, unit: str | None, plan: uuid.UUID | None
) -> dict[str, Any]:
    """The rules in force for a unit (and plan), with the layers they come from: 403 for a unit
    outside the caller's subtree; the layer of a unit notify has not heard of, or of a plan set
    by a unit outside the caller's line, is left out (as if absent)."""
    if unit and not caller.national and await units.listed(session, caller=caller, right=Right.read, code=unit) is None:
        unit = None
    wanted = []
    if unit:
        wanted.append(and_(r.c.scope == "unit", r.c.key == unit))
    if plan is not None:
        wanted.append(and_(r.c.scope == "plan", r.c.key == str(plan)))
    rows = (
        (await session.execute(select(r.c.scope, r.c.settings, r.c.owner_path).where(or_(*wanted)))).all()
        if wanted
        else []
    )
    found = {row.scope: row.settings for row in rows if row.scope == "unit" or _in_line(caller, row.owner_path)}
    return {
        "effective": rules_json(in_force(settings, found)),
        "defaults": rules_json(defaults(settings)),
        "plan": found.get("plan"),
        "unit": found.get("unit"),
    }


def _in_line(caller: Caller, owner: str | None) -> bool:
    """A plan's rules are read by the units above the unit that set them and below it."""
    owner = owner or EVERYWHERE
    return caller.covers(owner) or within(caller.unit_path, owner)


async def _owner(session: AsyncSession, *, caller: Caller, scope: Scope, key: str) -> str | None:
    """The unit whose heads may set or remove these rules, checked against the caller (403):
    the unit's own (placed as notify knows it); for a plan, the unit that set its rules first,
    or the caller's when none are set (None: nationally, by a national caller)."""
    stored = (await session.execute(select(r.c.owner_path).where(r.c.scope == scope, r.c.key == key))).first()
    if scope == "unit":  # where notify knows the unit, else where it was when its rules were set
        claimed = stored.owner_path if stored is not None else None
        return await units.placed(session, caller=caller, right=Right.manage, code=key, claimed=claimed)
    owner = caller.unit_path if stored is None else (stored.owner_path or EVERYWHERE)
    caller.require(Right.manage, owner)
    return owner


def check(body: domain.RuleSettings, *, scope: Scope, offered: list[int]) -> None:
    """Reminders only on the days the system reminds (`offered`); the daily digest is each
    unit's choice, never a plan's (422 naming the fields)."""
    problems = [
        FieldProblem(
            f"due_soon_days[{i}]",
            f"chỉ chọn trong các mốc hệ thống nhắc: {', '.join(str(d) for d in sorted(offered, reverse=True))} ngày",
        )
        for i, days in enumerate(body.due_soon_days or [])
        if days not in offered
    ]
    if scope == "plan":
        problems += [
            FieldProblem(name, "bản tổng hợp hằng ngày do từng đơn vị chọn, không đặt cho kế hoạch")
            for name in ("digest", "digest_at")
            if getattr(body, name) is not None
        ]
    if problems:
        raise InputError(problems)


async def put(
    session: AsyncSession, *, caller: Caller, scope: Scope, key: str, body: domain.RuleSettings, offered: list[int]
) -> dict[str, Any]:
    """Set a plan's or a unit's own rules, by the caller (the items not given follow the next layer)."""
    owner = await _owner(session, caller=caller, scope=scope, key=key)
    check(body, scope=scope, offered=offered)
    before = (await session.execute(select(r.c.settings).where(r.c.scope == scope, r.c.key == key))).scalar()
    audit.note_before({"settings": before})
    settings = body.model_dump(mode="json", exclude_none=True)
    changed = {"settings": settings, "owner_path": owner, "updated_by": caller.subject}
    await session.execute(
        insert(r)
        .values(scope=scope, key=key, **changed)
        .on_conflict_do_update(index_elements=["scope", "key"], set_={**changed, "updated_at": func.now()})
    )
    return {"scope": scope, "key": key, "settings": settings}


async def delete(session: AsyncSession, *, caller: Caller, scope: Scope, key: str) -> None:
    """Remove a plan's or a unit's own rules: the next layer applies again."""
    await _owner(session, caller=caller, scope=scope, key=key)
    gone = (await session.execute(r.delete().where(r.c.scope == scope, r.c.key == key).returning(r.c.key))).first()
    if gone is None:
        raise NotFound(f"không có quy tắc riêng cho {key}")
