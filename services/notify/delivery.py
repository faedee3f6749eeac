"""The delivery worker: sends pending deliveries over email and webhooks, records every attempt,
retries with exponential back-off and jitter, and after the last attempt (or a refusal that
retrying cannot change) marks the delivery failed — the dead-letter list an operator re-drives
through deliveries.py — publishes notification.failed and tries the contact's next channel.

Deliveries are claimed with FOR UPDATE SKIP LOCKED and a lease (`locked_until`), then sent
outside any transaction: several notify replicas never send the same delivery at once, and a
replica that dies mid-send leaves a lease that expires. Scheduling is in wall-clock time (the
database's now()), since it is about when a message leaves, not about business dates.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from services.notify import domain
from services.notify import models as m
from services.notify.channels import DeliveryError, email_message, send_email, send_webhook, webhook_body
from services.notify.contacts import usable
from services.notify.rendering import Templates
from shared import failpoints, sealing
from shared.events import NotificationFailed
from shared.runtime import Service
from shared.units import unit_ref

log = logging.getLogger(__name__)
CONCURRENCY = 32


def lease(service: Service) -> timedelta:
    s = service.settings
    return timedelta(seconds=2 * s.webhook_timeout_seconds + s.smtp_timeout_seconds + 60)


async def claim(service: Service) -> list[Any]:
    d, n, c = m.deliveries, m.notifications, m.contacts
    async with service.transaction() as session:
        now = func.now()
        due = (
            select(d.c.id)
            .where(
                d.c.status == "pending",
                d.c.next_attempt_at <= now,
                (d.c.locked_until.is_(None)) | (d.c.locked_until < now),
            )
            .order_by(d.c.next_attempt_at)
            .limit(service.settings.delivery_batch)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        ids = (
            (
                await session.execute(
                    update(d).where(d.c.id.in_(due)).values(locked_until=now + lease(service)).returning(d.c.id)
                )
            )
            .scalars()
            .all()
        )
        if not ids:
            return []
        return list(
            (
                await session.execute(
                    select(
                        d,
                        n.c.kind,
                        n.c.title,
                        n.c.body,
                        n.c.link,
                        n.c.unit_code,
                        n.c.unit_path,
                        n.c.subject_id,
                        n.c.created_at.label("notified_at"),
                        c.c.name.label("contact_name"),
                        c.c.email,
                        c.c.webhook_url,
                        c.c.webhook_secret,
                        c.c.channels,
                        c.c.quiet_start,
                        c.c.quiet_end,
                    )
                    .join(n, n.c.id == d.c.notification_id)
                    .join(c, c.c.id == d.c.contact_id)
                    .where(d.c.id.in_(ids))
                )
            ).all()
        )


async def send(row: Any, *, service: Service, client: httpx.AsyncClient, templates: Templates) -> str:
    settings = service.settings
    if row.channel == "webhook":
        body = webhook_body(
            {
                "id": row.idempotency_key,
                "kind": row.kind,
                "unit": {"code": row.unit_code, "path": row.unit_path},
                "title": row.title,
                "body": row.body,
                "link": row.link,
                "subject_id": str(row.subject_id),
                "created_at": row.notified_at.isoformat(),
            }
        )
        return await send_webhook(
            client,
            url=row.webhook_url,
            secret=sealing.unseal(settings, row.webhook_secret) if row.webhook_secret else "",
            body=body,
            key=row.idempotency_key,
            kind=row.kind,
            settings=settings,
        )
    text = templates.email(
        {"contact_name": row.contact_name, "title": row.title, "body": row.body, "link": row.link, "unit_name": ""}
    )
    message = email_message(
        settings, to_name=row.contact_name, to_email=row.email, subject=row.title, text=text, key=row.idempotency_key
    )
    return await send_email(settings, message)


async def record(service: Service, row: Any, *, ok: bool, detail: str, permanent: bool, took_ms: int) -> None:
    d = m.deliveries
    settings = service.settings
    attempts = row.attempts + 1
    async with service.transaction() as session:
        await session.execute(
            insert(m.delivery_attempts).values(
                delivery_id=row.id, at=func.now(), ok=ok, detail=detail[:1000], duration_ms=took_ms
            )
        )
        if ok:
            await session.execute(
                update(d)
                .where(d.c.id == row.id)
                .values(status="sent", attempts=attempts, sent_at=func.now(), locked_until=None, last_error="")
            )
            return
        if not permanent and attempts < settings.delivery_max_attempts:
            now = (await session.execute(select(func.now()))).scalar_one()
            wait = domain.backoff(attempts, settings.delivery_backoff_seconds, jitter=random.random())
            await session.execute(
                update(d)
                .where(d.c.id == row.id)
                .values(
                    attempts=attempts,
                    last_error=detail[:1000],
                    locked_until=None,
                    next_attempt_at=domain.quiet_until(now + wait, row.quiet_start, row.quiet_end),
                )
            )
            return
        await session.execute(
            update(d)
            .where(d.c.id == row.id)
            .values(status="failed", attempts=attempts, last_error=detail[:1000], locked_until=None)
        )
        next_channel = await _fall_back(session, service, row)
        unit = unit_ref(row)  # notifications from before migration 0002 have no path: the code stands in
        await service.emit(
            session,
            [
                service.event(
                    "notification.failed",
                    unit_path=unit.path,
                    payload=NotificationFailed(
                        notification_id=row.notification_id,
                        delivery_id=row.id,
                        kind=row.kind,
                        unit=unit,
                        contact_id=row.contact_id,
                        channel=row.channel,
                        attempts=attempts,
                        error=detail[:500],
                        next_channel=next_channel,
                    ),
                )
            ],
        )


async def _fall_back(session: Any, service: Service, row: Any) -> str | None:
    """The contact's next usable channel after this one, if it has not been tried for this
    notification yet: one broken bridge does not silence a unit."""
    order = list(row.channels)
    later = order[order.index(row.channel) + 1 :] if row.channel in order else []
    tried = set(
        (
            await session.execute(
                select(m.deliveries.c.channel).where(
                    m.deliveries.c.notification_id == row.notification_id, m.deliveries.c.contact_id == row.contact_id
                )
            )
        )
        .scalars()
        .all()
    )
    for channel in later:
        if channel not in tried and usable(row, channel, service.settings):
            now = (await session.execute(select(func.now()))).scalar_one()
            await session.execute(
                insert(m.deliveries)
                .values(
                    id=uuid.uuid4(),
                    notification_id=row.notification_id,
                    contact_id=row.contact_id,
                    channel=channel,
                    idempotency_key=row.idempotency_key.rsplit(":", 1)[0] + f":{channel}",  # same event
                    status="pending",
                    next_attempt_at=domain.quiet_until(now, row.quiet_start, row.quiet_end),
                )
                .on_conflict_do_nothing()
            )
            return channel
    return None


def delivery_job(templates: Templates) -> Any:
    async def deliver_pending(service: Service) -> int:
        """Send what is due; loop while full batches keep coming."""
        total = 0
        # direct to the address destinations.py checked: no redirects, no proxy from the environment
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(service.settings.webhook_timeout_seconds), follow_redirects=False, trust_env=False
        ) as client:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(row: Any) -> None:
                async with gate:
                    started, answered = time.monotonic(), True
                    try:
                        detail = await send(row, service=service, client=client, templates=templates)
                    except DeliveryError as exc:
                        ok, detail, permanent, answered = False, str(exc), exc.permanent, exc.answered
                    except Exception:  # noqa: BLE001 — a bug in one send must not stop the others
                        log.exception("notify: delivery %s failed unexpectedly", row.id)
                        ok, detail, permanent, answered = False, "lỗi không lường trước", False, False
                    else:
                        ok, permanent = True, False
                        failpoints.hit("notify.sent")  # a crash here: sent again, same Message-ID / key
                    # how long an unanswered attempt took would tell a closed port from a silent one
                    took_ms = int((time.monotonic() - started) * 1000) if answered else 0
                    await record(service, row, ok=ok, detail=detail, permanent=permanent, took_ms=took_ms)

            while True:
                rows = await claim(service)
                if not rows:
                    return total
                await asyncio.gather(*(one(r) for r in rows))
                total += len(rows)
                if len(rows) < service.settings.delivery_batch:
                    return total

    deliver_pending.interval = lambda settings: min(settings.delivery_poll_seconds, settings.sweep_interval_seconds)  # type: ignore[attr-defined]
    return deliver_pending
