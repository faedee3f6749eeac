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
from collections.abc import Iterable
from typing import Any, Literal

from sqlalchemy import Text, and_, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
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


# Whose rules: a unit (its code, and its path when known) under a plan (None: a rule of no plan).
RuleKey = tuple[str, uuid.UUID | None, str | None]


def rule_key(unit_code: str, plan_id: uuid.UUID | None, unit_path: str | None) -> RuleKey:
    return (unit_code, plan_id, unit_path)


async def stored_rules(
    session: AsyncSession, *, unit_code: str | None, plan_id: uuid.UUID | None, unit_path: str | None = None
) -> dict[str, dict[str, Any]]:
    """The rules a unit and a plan set themselves, by scope ("unit", "plan"); one indexed lookup.
    A plan's rules reach only the units in the subtree of the unit that set them (`unit_path`
    given): a commune cannot mute a plan's reminders for its siblings."""
    key = rule_key(unit_code or "", plan_id, unit_path)
    return (await stored_rules_many(session, [key]))[key]


async def stored_rules_many(
    session: AsyncSession, wanted: Iterable[RuleKey]
) -> dict[RuleKey, dict[str, dict[str, Any]]]:
    """`stored_rules` for each of `wanted`, in one statement whatever their number (a batch of
    events reads the rules once)."""
    wanted = set(wanted)
    codes = sorted({code for code, _, _ in wanted if code})
    plans = sorted({str(plan_id) for _, plan_id, _ in wanted if plan_id is not None})
    rows = (await session.execute(_STORED, {"codes": codes, "plans": plans})).all() if codes or plans else []
    of_unit = {row.key: row.settings for row in rows if row.scope == "unit"}
    of_plan = {row.key: row for row in rows if row.scope == "plan"}
    found: dict[RuleKey, dict[str, dict[str, Any]]] = {}
    for key in wanted:
        code, plan_id, path = key
        stored = {}
        plan = of_plan.get(str(plan_id)) if plan_id is not None else None
        if plan is not None and (path is None or not plan.owner_path or within(path, plan.owner_path)):
            stored["plan"] = plan.settings
        if code and code in of_unit:
            stored["unit"] = of_unit[code]
        found[key] = stored
    return found


# one text whatever the number of units and plans: compiled and prepared once
_STORED = select(r.c.scope, r.c.key, r.c.settings, r.c.owner_path).where(
    or_(
        and_(r.c.scope == "unit", r.c.key == any_(bindparam("codes", type_=ARRAY(Text)))),
        and_(r.c.scope == "plan", r.c.key == any_(bindparam("plans", type_=ARRAY(Text)))),
    )
)


def in_force(settings: Settings, stored: dict[str, dict[str, Any]]) -> domain.Rules:
    """The defaults, overridden by the plan's rules, overridden by the unit's (`stored`)."""
    return defaults(settings).merged(stored.get("plan"), stored.get("unit"))


async def rules_for(
    session: AsyncSession, settings: Settings, *, unit_code: str, plan_id: uuid.UUID | None, unit_path: str | None
) -> domain.Rules:
    """The rules in force for a unit (its code and path) and plan."""
    key = rule_key(unit_code, plan_id, unit_path)
    return (await rules_for_many(session, settings, [key]))[key]


async def rules_for_many(
    session: AsyncSession, settings: Settings, wanted: Iterable[RuleKey]
) -> dict[RuleKey, domain.Rules]:
    """The rules in force for each of `wanted` (unit code, plan, unit path), read in one statement;
    units with the same stored layers share one merge (most units of a batch have none of their own)."""
    merged: dict[tuple[uuid.UUID | None, str | None], domain.Rules] = {}
    found: dict[RuleKey, domain.Rules] = {}
    for key, stored in (await stored_rules_many(session, wanted)).items():
        code, plan_id, _ = key
        layers = (plan_id if "plan" in stored else None, code if "unit" in stored else None)  # the rows that apply
        if layers not in merged:
            merged[layers] = in_force(settings, stored)
        found[key] = merged[layers]
    return found


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
