"""Periodic jobs of the notify service besides delivery: escalations whose grace period has
ended go to the supervising unit, and held notifications go out as each unit's daily digest.

Both claim their rows with FOR UPDATE SKIP LOCKED inside one transaction with the notification
they create, whose dedup key is unique: with several notify replicas, each escalation and each
day's digest is created once.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from services.notify import domain
from services.notify import models as m
from services.notify.handlers import rules_for, store
from services.notify.rendering import Templates
from shared.clock import VN
from shared.runtime import Service

BATCH = 500


def _event_id(key: str) -> uuid.UUID:
    """A stable stand-in for the triggering event of what a job creates (idempotency keys)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"cchc:notify:{key}")


def escalation_job(templates: Templates) -> Any:
    async def escalate(service: Service) -> int:
        """Tell the supervising unit about overdue occurrences whose grace period has ended."""
        settings, e = service.settings, m.escalations
        today = service.clock.today_vn()
        total = 0
        while True:
            async with service.transaction() as session:
                rows = (
                    await session.execute(
                        select(e)
                        .where(e.c.status == "pending", e.c.escalate_on <= today)
                        .order_by(e.c.escalate_on)
                        .limit(BATCH)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                for row in rows:
                    rules = await rules_for(session, settings, unit_code=row.parent_code, plan_id=row.plan_id)
                    note = domain.escalated(
                        assignment_id=row.assignment_id,
                        due=row.due,
                        parent_code=row.parent_code,
                        parent_path=row.parent_path,
                        context=row.context,  # the overdue notice's: its link is the assignment
                        today=today,
                    )
                    notification = await store(
                        session,
                        note,
                        event_id=_event_id(note.dedup_key),
                        templates=templates,
                        settings=settings,
                        digest=rules.digest,
                    )
                    await session.execute(
                        update(e)
                        .where(e.c.assignment_id == row.assignment_id, e.c.due == row.due)
                        .values(status="sent", notification_id=notification)
                    )
            total += len(rows)
            if len(rows) < BATCH:
                return total

    return escalate


def digest_job(templates: Templates) -> Any:
    async def send_digests(service: Service) -> int:
        """Each unit with held notifications gets one digest a day, at or after its digest time
        (Vietnam time); a unit that turned the digest off gets what was held at once."""
        settings, n = service.settings, m.notifications
        base_url = settings.public_url.rstrip("/")
        now = service.clock.now().astimezone(VN)
        async with service.sessions() as session:
            units = (
                (await session.execute(select(n.c.unit_code).where(n.c.in_digest, n.c.digest_id.is_(None)).distinct()))
                .scalars()
                .all()
            )
        sent = 0
        for unit in units:
            async with service.transaction() as session:
                rules = await rules_for(session, settings, unit_code=unit, plan_id=None)
                if rules.digest and now.time() < rules.digest_at:
                    continue
                held = (
                    await session.execute(
                        select(n)
                        .where(n.c.unit_code == unit, n.c.in_digest, n.c.digest_id.is_(None))
                        .order_by(n.c.created_at)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                if not held:
                    continue  # another replica has them
                note = domain.digest(
                    unit,
                    held[0].unit_path or unit,
                    now.date(),
                    [domain.Held(r.kind, r.subject_id, r.title, r.context) for r in held],
                    base_url=base_url,
                )
                digest = await store(
                    session,
                    note,
                    event_id=_event_id(note.dedup_key),
                    templates=templates,
                    settings=settings,
                )
                if digest is None:
                    continue  # today's digest went out already: these wait for tomorrow's
                await session.execute(update(n).where(n.c.id.in_([r.id for r in held])).values(digest_id=digest))
                sent += 1
        return sent

    return send_digests
