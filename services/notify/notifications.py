"""In-app notifications (thông báo) of a unit: storing one with its first deliveries (one per
active contact of the unit, over the contact's first usable channel) or holding it for the
unit's daily digest; the unit's inbox, within the caller's subtree; marking one read."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import domain, units
from services.notify import models as m
from services.notify.contacts import usable
from services.notify.rendering import Templates
from shared import pages
from shared.access import Caller, Right
from shared.errors import NotFound
from shared.settings import Settings

n = m.notifications


def delivery_key(event_id: uuid.UUID | None, notification_id: uuid.UUID, contact_id: uuid.UUID, channel: str) -> str:
    """Stable for a (triggering event, contact, channel): retries and re-drives reuse it."""
    return f"{event_id or notification_id}:{contact_id}:{channel}"


async def store(
    session: AsyncSession,
    note: domain.NewNotification,
    *,
    event_id: uuid.UUID,
    templates: Templates,
    settings: Settings,
    digest: bool = False,
) -> uuid.UUID | None:
    """The notification and its first deliveries; None if it existed already (a redelivery).
    A notification held for the unit's digest is in the inbox at once and sent with the digest."""
    rendered = templates.message(note.kind, note.context)
    plan_id = note.context.get("plan_id")
    created = (
        await session.execute(
            insert(n)
            .values(
                id=uuid.uuid4(),
                dedup_key=note.dedup_key,
                unit_code=note.unit_code,
                unit_path=note.unit_path,
                kind=note.kind,
                subject_id=note.subject_id,
                title=rendered.title,
                body=rendered.body,
                link=note.context["link"],
                event_id=event_id,
                plan_id=uuid.UUID(plan_id) if plan_id else None,
                context=note.context if digest else {},
                in_digest=digest,
            )
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(n.c.id)
        )
    ).scalar_one_or_none()
    if created is None:
        return created
    if note.unit_path:
        await units.heard(session, code=note.unit_code, path=note.unit_path)
    if digest:
        return created
    c = m.contacts
    # a contact placed at another path (a unit of the same code elsewhere, or a wrong claim)
    # receives nothing of this unit
    same_unit = or_(c.c.unit_path.is_(None), c.c.unit_path == note.unit_path)
    contacts = (await session.execute(select(c).where(c.c.unit_code == note.unit_code, c.c.active, same_unit))).all()
    if not contacts:
        return created  # in-app only: no more work on this hot path
    rows = []
    now = (await session.execute(select(func.now()))).scalar_one()
    for contact in contacts:
        channel = next((ch for ch in contact.channels if usable(contact, ch, settings)), None)
        if channel is None:
            continue  # in-app only
        rows.append(
            {
                "id": uuid.uuid4(),
                "notification_id": created,
                "contact_id": contact.id,
                "channel": channel,
                "idempotency_key": delivery_key(event_id, created, contact.id, channel),
                "status": "pending",
                "next_attempt_at": domain.quiet_until(now, contact.quiet_start, contact.quiet_end),
            }
        )
    if rows:
        await session.execute(insert(m.deliveries).on_conflict_do_nothing(), rows)
    return created


def notification_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "unit": row.unit_code,
        "kind": row.kind,
        "subject_id": str(row.subject_id),
        "title": row.title,
        "body": row.body,
        "link": row.link,
        "created_at": row.created_at.isoformat(),
        "read": row.read_at is not None,
    }


LISTED = pages.Key("notifications", (datetime, uuid.UUID))  # newest first


async def list_(
    session: AsyncSession, *, caller: Caller, unit: str, page: pages.Ask, unread: bool = False, kind: str | None = None
) -> pages.Page:
    """A page of a unit's inbox, newest first; only the unread ones, or one kind, if asked. 403
    for a unit outside the caller's subtree; empty for a unit notify has not heard of."""
    path = await units.listed(session, caller=caller, right=Right.read, code=unit)
    if path is None and not caller.national:
        return pages.Page([], None)
    query: Select[Any] = (
        select(n)
        .where(n.c.unit_code == unit, units.in_subtree(n.c.unit_path, caller))
        .order_by(n.c.created_at.desc(), n.c.id.desc())
        .limit(page.limit + 1)
    )
    if (after := page.where(n.c.created_at, n.c.id, descending=True)) is not None:
        query = query.where(after)
    if unread:
        query = query.where(n.c.read_at.is_(None))
    if kind:
        query = query.where(n.c.kind == kind)
    return page.cut((await session.execute(query)).all(), lambda r: (r.created_at, r.id))


async def mark_read(session: AsyncSession, *, caller: Caller, notification_id: uuid.UUID) -> None:
    """Mark a notification of a unit in the caller's subtree read, by the caller; marking it again
    keeps the first time (and who). Another unit's notification is as absent (404): row-level
    security does not show it, and neither does this."""
    marked = (
        await session.execute(
            update(n)
            .where(n.c.id == notification_id, units.in_subtree(n.c.unit_path, caller))
            .values(
                read_at=func.coalesce(n.c.read_at, func.now()),
                read_by=case((n.c.read_at.is_(None), caller.subject), else_=n.c.read_by),
            )
            .returning(n.c.id)
        )
    ).first()
    if marked is None:
        raise NotFound(f"không có thông báo {notification_id}")
