"""Deliveries as an operator sees them (các lần gửi ra ngoài): the list, one delivery with its
attempts, and the re-drive of failed ones — the dead-letter list. Sending them, retrying and
failing over to the next channel is the delivery worker's (delivery.py). They show addresses and
errors: an admin sees and re-drives those of the units in its subtree only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import models as m
from services.notify import units
from services.notify.delivery import note_redriven
from shared import pages
from shared.access import Caller, Right
from shared.errors import Conflict, FieldProblem, Forbidden, InputError, NotFound

d, n = m.deliveries, m.notifications
Status = Literal["pending", "sent", "failed"]


class RedriveIn(BaseModel):
    ids: list[uuid.UUID] = Field(default_factory=list, max_length=10000)
    all: bool = False  # every failed delivery (of the caller's subtree)


def delivery_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "notification_id": str(row.notification_id),
        "contact_id": str(row.contact_id),
        "unit": row.unit_code,
        "kind": row.kind,
        "channel": row.channel,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "idempotency_key": row.idempotency_key,
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
    }


def _with_notification(caller: Caller) -> Select[Any]:
    """Deliveries of the caller's subtree, with the unit and kind of their notification."""
    return (
        select(d, n.c.unit_code, n.c.unit_path, n.c.kind)
        .join(n, n.c.id == d.c.notification_id)
        .where(units.in_subtree(n.c.unit_path, caller))
    )


LISTED = pages.Key("deliveries", (datetime, uuid.UUID))  # newest first


async def list_(
    session: AsyncSession, *, caller: Caller, page: pages.Ask, status: Status | None = None, unit: str | None = None
) -> pages.Page:
    """A page of the deliveries of the caller's subtree, newest first, of one status and one unit
    if asked (403 for a unit outside the subtree, none for a unit notify has not heard of)."""
    query = _with_notification(caller).order_by(d.c.created_at.desc(), d.c.id.desc()).limit(page.limit + 1)
    if (after := page.where(d.c.created_at, d.c.id, descending=True)) is not None:
        query = query.where(after)
    if status:
        query = query.where(d.c.status == status)
    if unit:
        path = await units.listed(session, caller=caller, right=Right.admin, code=unit)
        if path is None and not caller.national:
            return pages.Page([], None)
        query = query.where(n.c.unit_code == unit)
    return page.cut((await session.execute(query)).all(), lambda r: (r.created_at, r.id))


async def get_or_raise(session: AsyncSession, *, caller: Caller, delivery_id: uuid.UUID) -> dict[str, Any]:
    """One delivery of the caller's subtree with the log of its attempts, oldest first; another
    unit's is as absent (404)."""
    row = (await session.execute(_with_notification(caller).where(d.c.id == delivery_id))).first()
    if row is None:
        raise NotFound(f"không có lần gửi {delivery_id}")
    a = m.delivery_attempts
    attempts = (await session.execute(select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.id))).all()
    return {
        **delivery_json(row),
        "attempts_log": [
            {"at": t.at.isoformat(), "ok": t.ok, "detail": t.detail, "duration_ms": t.duration_ms} for t in attempts
        ],
    }


async def redrive(session: AsyncSession, *, caller: Caller, body: RedriveIn) -> list[uuid.UUID]:
    """Send failed deliveries of the caller's subtree again from the first attempt, under the
    same idempotency key; the ones named must all exist (404), be of the subtree (403) and have
    failed (409). `all`: every failed one of the subtree."""
    if not body.ids and not body.all:
        raise InputError([FieldProblem("ids", "cần danh sách id hoặc all=true")])
    ours = select(d.c.id).join(n, n.c.id == d.c.notification_id).where(units.in_subtree(n.c.unit_path, caller))
    if body.ids:
        found = dict((await session.execute(select(d.c.id, d.c.status).where(d.c.id.in_(body.ids)))).all())
        missing = [str(i) for i in body.ids if i not in found]
        if missing:
            raise NotFound(f"không có lần gửi {', '.join(missing[:5])}")
        # the notification of another unit's delivery is not seen (row-level security and the subtree)
        mine = set((await session.execute(ours.where(d.c.id.in_(body.ids)))).scalars())
        theirs = [str(i) for i in body.ids if i not in mine]
        if theirs:
            raise Forbidden(
                f"Lần gửi {', '.join(theirs[:5])} thuộc đơn vị ngoài phạm vi của tài khoản (đơn vị "
                f"{caller.unit_code}); cần quyền “{Right.admin.label}” ({Right.admin.value}) trên đơn vị đó"
            )
        not_failed = [str(i) for i in body.ids if found[i] != "failed"]
        if not_failed:
            raise Conflict(f"chỉ gửi lại được lần gửi đã hỏng: {', '.join(not_failed[:5])}")
    query = update(d).where(d.c.status == "failed", d.c.id.in_(ours))
    if body.ids:
        query = query.where(d.c.id.in_(body.ids))
    again = query.values(status="pending", attempts=0, next_attempt_at=func.now(), locked_until=None)
    redriven = list((await session.execute(again.returning(d.c.id))).scalars().all())
    if redriven:
        note_redriven(session)  # sent as soon as this commits, not at the next poll
    return redriven
