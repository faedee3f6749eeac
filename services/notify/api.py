"""HTTP routes of the notify service: the in-app inbox of a unit."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select, update

from services.notify import models as m
from shared.errors import NotFound
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
