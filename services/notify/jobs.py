"""Periodic jobs of the notify service besides delivery: escalations whose grace period has
ended go to the supervising unit, and held notifications go out as each unit's daily digest.

Both claim their rows with FOR UPDATE SKIP LOCKED inside one transaction with the notification
they create, whose dedup key is unique: with several notify replicas, each escalation and each
day's digest is created once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from services.notify import domain
from services.notify import models as m
from services.notify.handlers import is_settled
from services.notify.notifications import store
from services.notify.rendering import Templates
from services.notify.rules import rules_for
from shared.clock import VN
from shared.runtime import Service
from shared.units import unit_ref

BATCH = 500
log = logging.getLogger(__name__)


def _event_id(key: str) -> uuid.UUID:
    """A stable stand-in for the triggering event of what a job creates (idempotency keys)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"cchc:notify:{key}")


def escalation_job(templates: Templates) -> Any:
    async def escalate(service: Service) -> int:
        """Tell the supervising unit about overdue occurrences whose grace period has ended,
        unless they were settled meanwhile or the supervisor's rules no longer escalate."""
        e = m.escalations
        today = service.clock.today_vn()
        total = 0
        while True:
            async with service.transaction() as session:
                rows = (
                    await session.execute(
                        select(e, is_settled(e.c.assignment_id, e.c.due).label("settled"))
                        .where(e.c.status == "pending", e.c.escalate_on <= today)
                        .order_by(e.c.escalate_on)
                        .limit(BATCH)
                        .with_for_update(of=e, skip_locked=True)
                    )
                ).all()
                for row in rows:
                    try:
                        async with session.begin_nested():  # one bad row does not hold up the others
                            await _escalate(session, row, service=service, templates=templates, today=today)
                    except Exception:
                        log.exception("notify: escalation of %s (%s) failed", row.assignment_id, row.due)
            total += len(rows)
            if len(rows) < BATCH:
                return total

    return escalate


async def _escalate(session: Any, row: Any, *, service: Service, templates: Templates, today: Any) -> None:
    e, settings = m.escalations, service.settings
    key = (e.c.assignment_id == row.assignment_id, e.c.due == row.due)
    if row.settled is not None:
        await session.execute(update(e).where(*key).values(status="resolved", resolution=row.settled))
        return
    rules = await rules_for(
        session, settings, unit_code=row.parent_code, plan_id=row.plan_id, unit_path=row.parent_path
    )
    if not rules.escalate:
        await session.execute(update(e).where(*key).values(status="resolved", resolution="rule"))
        return
    note = domain.escalated(
        assignment_id=row.assignment_id,
        due=row.due,
        supervisor=unit_ref(row, prefix="parent_"),
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
    await session.execute(update(e).where(*key).values(status="sent", notification_id=notification))


def digest_job(templates: Templates) -> Any:
    async def send_digests(service: Service) -> int:
        """Each unit with held notifications gets one digest a day, at or after its digest time
        (Vietnam time); a unit that turned the digest off gets what was held at once."""
        n = m.notifications
        now = service.clock.now().astimezone(VN)
        async with service.sessions() as session:
            units = (
                (await session.execute(select(n.c.unit_code).where(n.c.in_digest, n.c.digest_id.is_(None)).distinct()))
                .scalars()
                .all()
            )
        sent = 0
        for unit in units:
            try:
                sent += await _digest(service, unit, now=now, templates=templates)
            except Exception:
                log.exception("notify: digest of unit %s failed", unit)  # the other units still get theirs
        return sent

    return send_digests


async def _digest(service: Service, unit: str, *, now: datetime, templates: Templates) -> int:
    settings, n = service.settings, m.notifications
    key = domain.digest_key(unit, now.date())
    async with service.transaction() as session:
        rules = await rules_for(session, settings, unit_code=unit, plan_id=None, unit_path=None)
        if rules.digest and now.time() < rules.digest_at:
            return 0
        # The unit, not its rows, is claimed: a row being marked read is waited for, not skipped.
        claimed = (
            await session.execute(select(func.pg_try_advisory_xact_lock(func.hashtext(f"cchc.notify.digest.{unit}"))))
        ).scalar_one()
        if not claimed:
            return 0  # another replica is on it
        if (await session.execute(select(n.c.id).where(n.c.dedup_key == key))).first() is not None:
            return 0  # today's digest went out already: what was held since waits for tomorrow's
        held = (
            await session.execute(
                select(n)
                .where(n.c.unit_code == unit, n.c.in_digest, n.c.digest_id.is_(None))
                .order_by(n.c.created_at)
                .with_for_update()
            )
        ).all()
        if not held:
            return 0
        note = domain.digest(
            unit,
            unit_ref(held[0]).path,
            now.date(),
            [domain.Held(r.kind, r.subject_id, r.title, r.context) for r in held],
            base_url=settings.public_url.rstrip("/"),
        )
        digest = await store(session, note, event_id=_event_id(note.dedup_key), templates=templates, settings=settings)
        if digest is None:
            return 0
        await session.execute(update(n).where(n.c.id.in_([r.id for r in held])).values(digest_id=digest))
        return 1
