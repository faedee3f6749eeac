"""HTTP routes of the notify service: the in-app inbox of a unit."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, EmailStr, Field, HttpUrl, model_validator
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from services.notify import domain
from services.notify import models as m
from services.notify.handlers import defaults, stored_rules
from shared.errors import Conflict, FieldProblem, InputError, NotFound
from shared.runtime import Service, service_of

router = APIRouter(prefix="/api")


@router.get("/notifications")
async def list_notifications(
    unit: str,
    unread: bool = False,
    kind: str | None = None,
    limit: int = Query(500, ge=1, le=5000),
    service: Service = Depends(service_of),
) -> dict[str, Any]:
    n = m.notifications
    query = select(n).where(n.c.unit_code == unit).order_by(n.c.created_at.desc()).limit(limit)
    if unread:
        query = query.where(n.c.read_at.is_(None))
    if kind:
        query = query.where(n.c.kind == kind)
    async with service.sessions() as session:
        rows = (await session.execute(query)).all()
    return {
        "items": [
            {
                "id": str(r.id),
                "unit": r.unit_code,
                "kind": r.kind,
                "subject_id": str(r.subject_id),
                "title": r.title,
                "body": r.body,
                "link": r.link,
                "created_at": r.created_at.isoformat(),
                "read": r.read_at is not None,
            }
            for r in rows
        ],
        "count": len(rows),
    }


@router.post("/notifications/{notification_id}/read")
async def mark_read(notification_id: uuid.UUID, service: Service = Depends(service_of)) -> dict[str, Any]:
    n = m.notifications
    async with service.transaction() as session:
        row = (
            await session.execute(
                update(n)
                .where(n.c.id == notification_id)
                .values(read_at=func.coalesce(n.c.read_at, func.now()))
                .returning(n.c.id)
            )
        ).first()
    if row is None:
        raise NotFound(f"không có thông báo {notification_id}")
    return {"id": str(notification_id), "read": True}


class QuietHours(BaseModel):
    start: dt.time  # Vietnam time, e.g. "22:00"
    end: dt.time  # e.g. "06:30" (the next morning)


class ContactIn(BaseModel):
    """Người nhận thông báo của một đơn vị: thư điện tử và/hoặc webhook (cầu nối Zalo OA …)."""

    unit: str = Field(min_length=1, max_length=50)
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr | None = None
    webhook_url: HttpUrl | None = None  # http or https only
    webhook_secret: str | None = Field(None, min_length=16, max_length=200)
    channels: list[Literal["email", "webhook"]] = Field(min_length=1, max_length=2)
    quiet_hours: QuietHours | None = None

    @model_validator(mode="after")
    def _addresses(self) -> ContactIn:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("mỗi kênh chỉ nêu một lần")
        return self


def _contact_json(row: Any, *, secret: bool = False) -> dict[str, Any]:
    body = {
        "id": str(row.id),
        "unit": row.unit_code,
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


@router.post("/notifications/contacts", status_code=201)
async def add_contact(body: ContactIn, service: Service = Depends(service_of)) -> dict[str, Any]:
    """Thêm người nhận; kênh theo thứ tự ưu tiên — kênh sau được dùng khi kênh trước hỏng hẳn."""
    problems = [
        FieldProblem(f"channels[{i}]", f"kênh {ch} cần {'địa chỉ email' if ch == 'email' else 'webhook_url'}")
        for i, ch in enumerate(body.channels)
        if (ch == "email" and body.email is None) or (ch == "webhook" and body.webhook_url is None)
    ]
    if problems:
        raise InputError(problems)
    secret = (body.webhook_secret or secrets.token_urlsafe(32)) if body.webhook_url else None
    async with service.transaction() as session:
        row = (
            await session.execute(
                insert(m.contacts)
                .values(
                    id=uuid.uuid4(),
                    unit_code=body.unit,
                    name=body.name.strip(),
                    email=str(body.email) if body.email else None,
                    webhook_url=str(body.webhook_url) if body.webhook_url else None,
                    webhook_secret=secret,
                    channels=body.channels,
                    quiet_start=body.quiet_hours.start if body.quiet_hours else None,
                    quiet_end=body.quiet_hours.end if body.quiet_hours else None,
                )
                .returning(m.contacts)
            )
        ).one()
    return _contact_json(row, secret=True)


@router.get("/notifications/contacts")
async def list_contacts(unit: str, service: Service = Depends(service_of)) -> dict[str, Any]:
    c = m.contacts
    async with service.sessions() as session:
        rows = (
            await session.execute(select(c).where(c.c.unit_code == unit, c.c.active).order_by(c.c.created_at))
        ).all()
    return {"items": [_contact_json(r) for r in rows], "count": len(rows)}


@router.delete("/notifications/contacts/{contact_id}")
async def remove_contact(contact_id: uuid.UUID, service: Service = Depends(service_of)) -> dict[str, Any]:
    """Ngừng gửi cho người nhận này (lịch sử gửi được giữ)."""
    async with service.transaction() as session:
        row = (
            await session.execute(
                update(m.contacts).where(m.contacts.c.id == contact_id).values(active=False).returning(m.contacts.c.id)
            )
        ).first()
    if row is None:
        raise NotFound(f"không có người nhận {contact_id}")
    return {"id": str(contact_id), "active": False}


def _delivery_json(row: Any) -> dict[str, Any]:
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


@router.get("/notifications/deliveries")
async def list_deliveries(
    status: Literal["pending", "sent", "failed"] | None = None,
    unit: str | None = None,
    limit: int = Query(500, ge=1, le=5000),
    service: Service = Depends(service_of),
) -> dict[str, Any]:
    """Các lần gửi ra ngoài; `status=failed` là danh sách gửi hỏng chờ gửi lại."""
    d, n = m.deliveries, m.notifications
    query = (
        select(d, n.c.unit_code, n.c.kind)
        .join(n, n.c.id == d.c.notification_id)
        .order_by(d.c.created_at.desc())
        .limit(limit)
    )
    if status:
        query = query.where(d.c.status == status)
    if unit:
        query = query.where(n.c.unit_code == unit)
    async with service.sessions() as session:
        rows = (await session.execute(query)).all()
    return {"items": [_delivery_json(r) for r in rows], "count": len(rows)}


@router.get("/notifications/deliveries/{delivery_id}")
async def get_delivery(delivery_id: uuid.UUID, service: Service = Depends(service_of)) -> dict[str, Any]:
    d, n, a = m.deliveries, m.notifications, m.delivery_attempts
    async with service.sessions() as session:
        row = (
            await session.execute(
                select(d, n.c.unit_code, n.c.kind).join(n, n.c.id == d.c.notification_id).where(d.c.id == delivery_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"không có lần gửi {delivery_id}")
        attempts = (await session.execute(select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.id))).all()
    body = _delivery_json(row)
    body["attempts_log"] = [
        {"at": t.at.isoformat(), "ok": t.ok, "detail": t.detail, "duration_ms": t.duration_ms} for t in attempts
    ]
    return body


class RedriveIn(BaseModel):
    ids: list[uuid.UUID] = Field(default_factory=list, max_length=10000)
    all: bool = False  # every failed delivery


@router.post("/notifications/deliveries/redrive")
async def redrive(body: RedriveIn, service: Service = Depends(service_of)) -> dict[str, Any]:
    """Gửi lại các lần gửi hỏng (cùng khóa chống trùng: người nhận đã nhận thì không nhận lần hai)."""
    if not body.ids and not body.all:
        raise InputError([FieldProblem("ids", "cần danh sách id hoặc all=true")])
    d = m.deliveries
    async with service.transaction() as session:
        if body.ids:
            found = dict((await session.execute(select(d.c.id, d.c.status).where(d.c.id.in_(body.ids)))).all())
            missing = [str(i) for i in body.ids if i not in found]
            if missing:
                raise NotFound(f"không có lần gửi {', '.join(missing[:5])}")
            not_failed = [str(i) for i in body.ids if found[i] != "failed"]
            if not_failed:
                raise Conflict(f"chỉ gửi lại được lần gửi đã hỏng: {', '.join(not_failed[:5])}")
        query = update(d).where(d.c.status == "failed")
        if body.ids:
            query = query.where(d.c.id.in_(body.ids))
        ids = (
            (
                await session.execute(
                    query.values(status="pending", attempts=0, next_attempt_at=func.now(), locked_until=None).returning(
                        d.c.id
                    )
                )
            )
            .scalars()
            .all()
        )
    return {"redriven": [str(i) for i in ids], "count": len(ids)}


def _rules_json(rules: domain.Rules) -> dict[str, Any]:
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


@router.get("/notifications/rules")
async def get_rules(
    unit: str | None = None, plan: uuid.UUID | None = None, service: Service = Depends(service_of)
) -> dict[str, Any]:
    """Quy tắc đang áp dụng cho một đơn vị (và kế hoạch): mặc định ← kế hoạch ← đơn vị."""
    async with service.sessions() as session:
        stored = await stored_rules(session, unit_code=unit, plan_id=plan)
    effective = defaults(service.settings).merged(stored.get("plan"), stored.get("unit"))
    return {
        "effective": _rules_json(effective),
        "defaults": _rules_json(defaults(service.settings)),
        "plan": stored.get("plan"),
        "unit": stored.get("unit"),
    }


async def _put_rules(scope: str, key: str, body: domain.RuleSettings, service: Service) -> dict[str, Any]:
    offered = service.settings.due_soon_days
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
    settings = body.model_dump(mode="json", exclude_none=True)
    async with service.transaction() as session:
        await session.execute(
            insert(m.rules)
            .values(scope=scope, key=key, settings=settings)
            .on_conflict_do_update(
                index_elements=["scope", "key"], set_={"settings": settings, "updated_at": func.now()}
            )
        )
    return {"scope": scope, "key": key, "settings": settings}


@router.put("/notifications/rules/plans/{plan_id}")
async def put_plan_rules(
    plan_id: uuid.UUID, body: domain.RuleSettings, service: Service = Depends(service_of)
) -> dict[str, Any]:
    """Quy tắc thông báo của một kế hoạch (các mục không nêu theo mặc định của hệ thống)."""
    return await _put_rules("plan", str(plan_id), body, service)


@router.put("/notifications/rules/units/{unit_code}")
async def put_unit_rules(
    body: domain.RuleSettings,
    unit_code: str = Path(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$"),
    service: Service = Depends(service_of),
) -> dict[str, Any]:
    """Quy tắc thông báo của một đơn vị, ưu tiên hơn quy tắc của kế hoạch; gồm cả chọn nhận bản
    tổng hợp hằng ngày (digest) thay cho từng thông báo."""
    return await _put_rules("unit", unit_code, body, service)


@router.delete("/notifications/rules/{scope}/{key}")
async def delete_rules(
    scope: Literal["plans", "units"], key: str, service: Service = Depends(service_of)
) -> dict[str, Any]:
    """Bỏ quy tắc riêng: trở về quy tắc của kế hoạch hoặc mặc định."""
    r = m.rules
    async with service.transaction() as session:
        gone = (
            await session.execute(r.delete().where(r.c.scope == scope.rstrip("s"), r.c.key == key).returning(r.c.key))
        ).first()
    if gone is None:
        raise NotFound(f"không có quy tắc riêng cho {key}")
    return {"scope": scope.rstrip("s"), "key": key, "deleted": True}
