"""Contacts (người nhận) of a unit outside the app: who receives its notifications by email or
webhook, over which channels in order of preference, with which quiet hours; adding, listing
and deactivating one (the heads of a unit, or of a unit above it, manage its contacts), and
whether a contact can be reached over a channel."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import BaseModel, EmailStr, Field, HttpUrl, field_validator
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import destinations, units
from services.notify import models as m
from shared import pages, sealing
from shared.access import EVERYWHERE, Caller, Right
from shared.errors import FieldProblem, InputError, NotFound
from shared.limits import RequiredName
from shared.settings import Settings

c = m.contacts


class QuietHours(BaseModel):
    start: dt.time  # Vietnam time, e.g. "22:00"
    end: dt.time  # e.g. "06:30" (the next morning)


class ContactIn(BaseModel):
    """Người nhận thông báo của một đơn vị: thư điện tử và/hoặc webhook (cầu nối Zalo OA …)."""

    # the unit's code; or its path (52.21787) while notify has not heard of the unit yet
    unit: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
    name: RequiredName
    email: EmailStr | None = None
    webhook_url: HttpUrl | None = None  # https, or http to an allow-listed bridge (destinations.py)
    webhook_secret: str | None = Field(None, min_length=16, max_length=200)
    channels: list[Literal["email", "webhook"]] = Field(min_length=1, max_length=2)
    quiet_hours: QuietHours | None = None

    @field_validator("channels")
    @classmethod
    def _once_each(cls, channels: list[str]) -> list[str]:
        if len(set(channels)) != len(channels):
            raise ValueError("mỗi kênh chỉ nêu một lần")
        return channels


def check(body: ContactIn) -> None:
    """Every channel named has its address (422 naming the channel)."""
    problems = [
        FieldProblem(f"channels[{i}]", f"kênh {ch} cần {'địa chỉ email' if ch == 'email' else 'webhook_url'}")
        for i, ch in enumerate(body.channels)
        if (ch == "email" and body.email is None) or (ch == "webhook" and body.webhook_url is None)
    ]
    if problems:
        raise InputError(problems)


NO_HTTP = (
    "địa chỉ webhook phải dùng https; http chỉ dùng được cho máy nhận trong danh sách cho phép của "
    "hệ thống (CCHC_WEBHOOK_ALLOW_HOSTS)"
)
NOT_ALLOWED = (
    "địa chỉ webhook không được phép: máy nhận thuộc mạng nội bộ, là máy của chính hệ thống hoặc là "
    "địa chỉ dành riêng; cầu nối đặt trong mạng nội bộ cần được quản trị hệ thống đưa vào danh sách "
    "cho phép (CCHC_WEBHOOK_ALLOW_HOSTS)"
)
# A name that does not resolve now is kept (it is checked again at every send); resolving is
# bounded, so that adding a contact cannot be held up by a slow resolver.
RESOLVE_SECONDS = 3.0


async def check_destination(body: ContactIn, settings: Settings) -> None:
    """The webhook goes where a webhook may go (422 `webhook_url`), as far as can be told now."""
    if body.webhook_url is None:
        return
    try:
        await destinations.vet(str(body.webhook_url), settings, wait_seconds=RESOLVE_SECONDS)
    except destinations.Refused as exc:
        raise InputError([FieldProblem("webhook_url", NO_HTTP if exc.scheme else NOT_ALLOWED)]) from None
    except destinations.Unresolved:
        pass


def usable(contact: Any, channel: str, settings: Settings) -> bool:
    """A contact row (or a delivery row joined with it) can be reached over `channel`."""
    if channel == "email":
        return bool(contact.email) and bool(settings.smtp_host)
    return bool(contact.webhook_url)


def contact_json(row: Any, *, secret: bool = False) -> dict[str, Any]:
    body = {
        "id": str(row.id),
        "unit": row.unit_code,
        "unit_path": row.unit_path,
        "name": row.name,
        "email": row.email,
        "webhook_url": row.webhook_url,
        "channels": row.channels,
        "quiet_hours": {"start": row.quiet_start.strftime("%H:%M"), "end": row.quiet_end.strftime("%H:%M")}
        if row.quiet_start and row.quiet_end
        else None,
        "active": row.active,
    }
    if secret:
        body["webhook_secret"] = row.webhook_secret  # shown once, when the contact is created
    return body


async def create(session: AsyncSession, *, caller: Caller, body: ContactIn, settings: Settings) -> Any:
    """Store a contact of a unit the caller manages, added by the caller; a webhook without a
    secret of its own gets a generated one, kept sealed (shared/sealing.py). The row returned
    carries the secret in clear, to be shown once."""
    await check_destination(body, settings)  # first: no connection is held while a name resolves
    code = body.unit.rpartition(".")[2]
    path = await units.placed(
        session,
        caller=caller,
        right=Right.manage,
        code=code,
        claimed=body.unit if "." in body.unit else None,
        hint=f": nêu đường dẫn của đơn vị trong `unit`, ví dụ {caller.unit_path}.{code}",
    )
    check(body)
    secret = (body.webhook_secret or secrets.token_urlsafe(32)) if body.webhook_url else None
    row = (
        await session.execute(
            insert(c)
            .values(
                id=uuid.uuid4(),
                unit_code=code,
                unit_path=path,
                name=body.name.strip(),
                email=str(body.email) if body.email else None,
                webhook_url=str(body.webhook_url) if body.webhook_url else None,
                webhook_secret=sealing.seal(settings, secret) if secret else None,
                channels=body.channels,
                quiet_start=body.quiet_hours.start if body.quiet_hours else None,
                quiet_end=body.quiet_hours.end if body.quiet_hours else None,
                created_by=caller.subject,
            )
            .returning(c)
        )
    ).one()
    return SimpleNamespace(**{**row._asdict(), "webhook_secret": secret})


LISTED = pages.Key("contacts", (dt.datetime, uuid.UUID))  # oldest first


async def list_(session: AsyncSession, *, caller: Caller, unit: str, page: pages.Ask) -> pages.Page:
    """A page of the unit's active contacts, oldest first: 403 for a unit outside the caller's
    subtree, none for a unit notify has not heard of (but the national scope's)."""
    path = await units.listed(session, caller=caller, right=Right.read, code=unit)
    query = select(c).where(c.c.unit_code == unit, c.c.active).order_by(c.c.created_at, c.c.id).limit(page.limit + 1)
    if (after := page.where(c.c.created_at, c.c.id)) is not None:
        query = query.where(after)
    if not caller.national:
        if path is None:
            return pages.Page([], None)
        query = query.where(or_(c.c.unit_path.is_(None), c.c.unit_path == path))
    return page.cut((await session.execute(query)).all(), lambda r: (r.created_at, r.id))


async def deactivate(session: AsyncSession, *, caller: Caller, contact_id: uuid.UUID) -> None:
    """Stop sending to a contact of a unit the caller manages; its deliveries stay on record."""
    row = (await session.execute(select(c.c.unit_code, c.c.unit_path).where(c.c.id == contact_id))).first()
    if row is None:
        raise NotFound(f"không có người nhận {contact_id}")
    path = row.unit_path or await units.path_of(session, caller=caller, code=row.unit_code)
    if path is not None and not caller.covers(path):  # another subtree's contact: as if absent
        raise NotFound(f"không có người nhận {contact_id}")
    caller.require(Right.manage, path or EVERYWHERE)  # placed nowhere: added nationally, by code alone
    await session.execute(update(c).where(c.c.id == contact_id).values(active=False))
