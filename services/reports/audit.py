"""The audit trail as the reports service keeps it: every service's `audit.recorded`, and who may
read it — heads, auditors and admins, of the acting unit or a unit above it (officers and
read-only machine clients may not)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.reports import models as m
from shared import pages
from shared.access import Caller, Right, Role
from shared.errors import FieldProblem, Forbidden, InputError
from shared.events import AuditRecorded, Event, Meta
from shared.units import within_path

READERS = {Role.head, Role.auditor, Role.admin}


async def record(session: AsyncSession, event: AuditRecorded, meta: Meta) -> list[Event]:
    await session.execute(
        insert(m.audit)
        .values(
            event_id=meta.id,
            at=meta.occurred_at,
            service=event.service,
            actor_subject=event.actor.subject,
            actor_unit=event.actor.unit,
            actor_name=event.actor.name,
            method=event.method,
            route=event.route,
            path=event.path,
            params=event.params,
            body=event.body,
            before=event.before,
            address=event.address,
        )
        .on_conflict_do_nothing()
    )
    return []


def may_read(caller: Caller) -> None:
    if READERS & set(caller.roles) or (caller.kind == "token" and Right.admin in caller.rights):
        return
    raise Forbidden("Chỉ lãnh đạo, thanh tra hoặc quản trị của đơn vị (hoặc đơn vị cấp trên) được xem nhật ký thao tác")


TRAIL = pages.Key("audit", (datetime, uuid.UUID))  # newest first


async def trail(
    session: AsyncSession, *, caller: Caller, unit: str | None, since: datetime | None, page: pages.Ask
) -> pages.Page:
    """A page of the writes by actors of the caller's subtree (or of `unit`'s, within it), newest first."""
    may_read(caller)
    a = m.audit
    scope = caller.unit_path
    if unit is not None:
        caller.refuse_above(unit)
        path = (await session.execute(select(m.units.c.path).where(m.units.c.code == unit))).scalar()
        if path is None:
            raise InputError([FieldProblem("unit", f"không có đơn vị mã {unit!r}")])
        caller.require(Right.read, str(path))
        scope = str(path)
    query = select(a).order_by(a.c.at.desc(), a.c.event_id.desc()).limit(page.limit + 1)
    query = query.where(within_path(a.c.actor_unit, scope))
    if since is not None:
        query = query.where(a.c.at >= since)
    if (after := page.where(a.c.at, a.c.event_id, descending=True)) is not None:
        query = query.where(after)
    return page.cut((await session.execute(query)).all(), lambda r: (r.at, r.event_id))


def entry_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.event_id),
        "at": row.at.isoformat(),
        "service": row.service,
        "actor": {"subject": row.actor_subject, "unit": row.actor_unit, "name": row.actor_name},
        "method": row.method,
        "route": row.route,
        "path": row.path,
        "params": row.params,
        "body": row.body,
        "before": row.before,
        "address": row.address,
    }
