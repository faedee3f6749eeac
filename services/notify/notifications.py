"""In-app notifications (thông báo) of a unit: storing one with its first deliveries (one per
active contact of the unit, over the contact's first usable channel) or holding it for the
unit's daily digest; the unit's inbox, within the caller's subtree; marking one read."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Select, Text, Uuid, any_, bindparam, case, cast, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
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


@dataclass(frozen=True)
class Pending:
    """A notification to store: the note an event made, the event (its id keys the deliveries),
    and whether the unit takes it in its daily digest instead of on its own."""

    note: domain.NewNotification
    event_id: uuid.UUID
    digest: bool = False


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
    created = await store_many(session, [Pending(note, event_id, digest)], templates=templates, settings=settings)
    return created.get(note.dedup_key)


async def store_many(
    session: AsyncSession, pending: list[Pending], *, templates: Templates, settings: Settings
) -> dict[str, uuid.UUID]:
    """`store` for a batch, set-based: one statement for the notifications, one for the units heard
    of, one read of the contacts, one for the deliveries. Returns the notifications created, by
    dedup key: one that existed already (a redelivery), or came earlier in the batch, makes nothing."""
    first: dict[str, Pending] = {}
    for item in pending:
        first.setdefault(item.note.dedup_key, item)
    if not first:
        return {}
    rows = sorted((_row(item, templates) for item in first.values()), key=lambda row: row["dedup_key"])
    inserted = set((await session.execute(_INSERT_NOTIFICATIONS, arrays_of(rows, _NOTIFICATION_COLUMNS))).scalars())
    created = {row["dedup_key"]: row["id"] for row in rows if row["id"] in inserted}
    made = [item for key, item in first.items() if key in created]  # arrival order
    # the last word on a unit's place wins, as when the events are handled one by one
    await units.heard_many(session, {item.note.unit_code: item.note.unit_path for item in made if item.note.unit_path})
    sent = [item for item in made if not item.digest]  # a digest's notifications go out with the digest
    if sent:
        await _first_deliveries(session, sent, created, settings)
    return created


def _row(item: Pending, templates: Templates) -> dict[str, Any]:
    note = item.note
    rendered = templates.message(note.kind, note.context)
    plan_id = note.context.get("plan_id")
    return {
        "id": uuid.uuid4(),
        "dedup_key": note.dedup_key,
        "unit_code": note.unit_code,
        "unit_path": note.unit_path,
        "kind": note.kind,
        "subject_id": note.subject_id,
        "title": rendered.title,
        "body": rendered.body,
        "link": note.context["link"],
        "event_id": item.event_id,
        "plan_id": uuid.UUID(plan_id) if plan_id else None,
        "context": json.dumps(note.context if item.digest else {}),
        "in_digest": item.digest,
    }


async def _first_deliveries(
    session: AsyncSession, sent: list[Pending], created: dict[str, uuid.UUID], settings: Settings
) -> None:
    """One delivery per active contact of each notification's unit, over the contact's first
    usable channel; a contact placed at another path (a unit of the same code elsewhere, or a
    wrong claim) receives nothing of this unit."""
    codes = sorted({item.note.unit_code for item in sent})
    by_unit: dict[str, list[Any]] = {}
    for contact in (await session.execute(_CONTACTS, {"codes": codes})).all():
        by_unit.setdefault(contact.unit_code, []).append(contact)
    if not by_unit:
        return  # in-app only: no more work on this hot path
    now = (await session.execute(select(func.now()))).scalar_one()
    rows = []
    for item in sent:
        note, notification_id = item.note, created[item.note.dedup_key]
        for contact in by_unit.get(note.unit_code, []):
            if contact.unit_path is not None and contact.unit_path != note.unit_path:
                continue
            channel = next((ch for ch in contact.channels if usable(contact, ch, settings)), None)
            if channel is None:
                continue  # in-app only
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "notification_id": notification_id,
                    "contact_id": contact.id,
                    "channel": channel,
                    "idempotency_key": delivery_key(item.event_id, notification_id, contact.id, channel),
                    "status": "pending",
                    "next_attempt_at": domain.quiet_until(now, contact.quiet_start, contact.quiet_end),
                }
            )
    if rows:
        rows.sort(key=lambda row: row["idempotency_key"])
        await session.execute(_INSERT_DELIVERIES, arrays_of(rows, _DELIVERY_COLUMNS))


# The batch statements: the rows go in as one array per column and come out of unnest(), so each
# is one text whatever the batch's size, compiled by SQLAlchemy and prepared by PostgreSQL once.
def unnested(columns: dict[str, Any]) -> Any:
    """unnest(:c1, :c2, …) AS batch(c1, c2, …), one bound array per column, typed."""
    arrays = (bindparam(name, type_=ARRAY(type_)) for name, type_ in columns.items())
    return func.unnest(*arrays).table_valued(*columns).render_derived(name="batch")


def arrays_of(rows: list[dict[str, Any]], columns: dict[str, Any]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in columns}


_NOTIFICATION_COLUMNS: dict[str, Any] = {
    "id": Uuid,
    "dedup_key": Text,
    "unit_code": Text,
    "unit_path": Text,
    "kind": Text,
    "subject_id": Uuid,
    "title": Text,
    "body": Text,
    "link": Text,
    "event_id": Uuid,
    "plan_id": Uuid,
    "context": Text,  # JSON text, cast below (arrays of jsonb bind poorly)
    "in_digest": Boolean,
}


def _insert_notifications() -> Any:
    batch = unnested(_NOTIFICATION_COLUMNS)
    values = [cast(batch.c[name], JSONB) if name == "context" else batch.c[name] for name in _NOTIFICATION_COLUMNS]
    statement = insert(n).from_select(list(_NOTIFICATION_COLUMNS), select(*values))
    return statement.on_conflict_do_nothing(index_elements=["dedup_key"]).returning(n.c.id)


_DELIVERY_COLUMNS: dict[str, Any] = {
    "id": Uuid,
    "notification_id": Uuid,
    "contact_id": Uuid,
    "channel": Text,
    "idempotency_key": Text,
    "status": Text,
    "next_attempt_at": DateTime(timezone=True),
}


def _insert_deliveries() -> Any:
    batch = unnested(_DELIVERY_COLUMNS)
    statement = insert(m.deliveries).from_select(list(_DELIVERY_COLUMNS), select(*batch.c))
    return statement.on_conflict_do_nothing()


_INSERT_NOTIFICATIONS = _insert_notifications()
_INSERT_DELIVERIES = _insert_deliveries()  # an INSERT into deliveries: the commit wakes the worker (delivery.py)
_CONTACTS = select(m.contacts).where(
    m.contacts.c.unit_code == any_(bindparam("codes", type_=ARRAY(Text))), m.contacts.c.active
)


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
