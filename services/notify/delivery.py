"""The delivery worker: sends pending deliveries over email and webhooks, records every attempt,
retries with exponential back-off and jitter, and after the last attempt (or a refusal that
retrying cannot change) marks the delivery failed — the dead-letter list an operator re-drives
through deliveries.py — publishes notification.failed and tries the contact's next channel.

Deliveries are claimed in batches with FOR UPDATE SKIP LOCKED and a lease (`locked_until`), in
one statement, then sent outside any transaction: several notify replicas never send the same
delivery at once, and a replica that dies mid-send leaves a lease that expires. A worker starts a
send only while its lease has time left for it; what it could not start goes back untried.
Scheduling is in wall-clock time (the database's now()), since it is about when a message
leaves, not about business dates.

One round of the worker (`Round`) keeps up to CCHC_SMTP_SESSIONS SMTP sessions open, each sending
mail after mail, and the webhooks beside them; the outcomes are recorded as they come, a batch per
transaction. A mail is recorded after it was sent: a crash in between (fail point `notify.sent`)
sends it again later with the same Message-ID, which the receiving system may drop.

The worker runs every CCHC_DELIVERY_POLL_SECONDS, and also at once when a transaction of this
process that added deliveries commits (the consumer storing notifications, a re-drive).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import bindparam, event, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session

from services.notify import domain
from services.notify import models as m
from services.notify.channels import DeliveryError, MailSession, Unreachable, send_webhook, webhook_body
from services.notify.contacts import usable
from services.notify.mail import Address, BadAddress, Letterhead
from services.notify.rendering import Templates
from shared import failpoints, sealing
from shared.db import ScopedSession
from shared.events import NotificationFailed
from shared.runtime import Service
from shared.units import unit_ref

log = logging.getLogger(__name__)
WEBHOOKS_AT_ONCE = 32
SEND_MARGIN_SECONDS = 10.0  # of a lease, kept for recording what was sent
CLAIM_GAP_SECONDS = 0.05  # while notifications stream in, claim at most this often …
RECORD_GAP_SECONDS = 0.05  # … and record at most this often (fewer, larger transactions)
RECORD_AT_ONCE = 200  # unless this many outcomes are waiting
LINGER_SECONDS = 1.0  # open SMTP sessions wait this long for more mail before they close
DOWN_SECONDS = 5.0  # a mail server that took no session is not asked again before this
d, n, c = m.deliveries, m.notifications, m.contacts


def lease(service: Service) -> timedelta:
    s = service.settings
    return timedelta(seconds=2 * s.webhook_timeout_seconds + s.smtp_timeout_seconds + 60)


def send_budget(service: Service) -> float:
    """The longest one send may take (a mail: connecting included)."""
    s = service.settings
    return max(2 * s.webhook_timeout_seconds, 2 * s.smtp_timeout_seconds)


async def claim(service: Service, limit: int) -> list[Any]:
    """Lease up to `limit` due deliveries no one holds, with what sending them needs."""
    now = func.now()
    due = (
        select(d.c.id)
        .where(
            d.c.status == "pending",
            d.c.next_attempt_at <= now,
            (d.c.locked_until.is_(None)) | (d.c.locked_until < now),
        )
        .order_by(d.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    leased = (
        update(d)
        .where(d.c.id.in_(due), n.c.id == d.c.notification_id, c.c.id == d.c.contact_id)
        .values(locked_until=now + lease(service))
        .returning(
            *d.c,
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
    )
    async with service.transaction() as session:
        return list((await session.execute(leased)).all())


@dataclass(eq=False)
class Outcome:
    """What became of one claimed delivery. `tried`: False when it went back untried (its lease
    had too little time left): no attempt is counted."""

    row: Any
    ok: bool
    detail: str = ""
    permanent: bool = False
    took_ms: int = 0
    tried: bool = True


async def record(service: Service, outcomes: list[Outcome]) -> None:
    """The outcomes of a batch in one transaction: the attempts, the sent, the retries (each at
    its back-off), the untried released; the failed for good one by one (they fall back to the
    contact's next channel and publish notification.failed)."""
    settings = service.settings
    tried = [o for o in outcomes if o.tried]
    sent = [o.row.id for o in tried if o.ok]
    untried = [o.row.id for o in outcomes if not o.tried]
    failed = [o for o in tried if not o.ok]
    async with service.transaction() as session:
        if tried:
            await session.execute(
                insert(m.delivery_attempts).values(at=func.now()),
                [
                    {"delivery_id": o.row.id, "ok": o.ok, "detail": o.detail[:1000], "duration_ms": o.took_ms}
                    for o in tried
                ],
            )
        if sent:
            await session.execute(
                update(d)
                .where(d.c.id.in_(sent))
                .values(status="sent", attempts=d.c.attempts + 1, sent_at=func.now(), locked_until=None, last_error="")
            )
        if untried:
            await session.execute(update(d).where(d.c.id.in_(untried)).values(locked_until=None))
        if not failed:
            return
        now = (await session.execute(select(func.now()))).scalar_one()
        again = [o for o in failed if not o.permanent and o.row.attempts + 1 < settings.delivery_max_attempts]
        if again:
            await session.execute(
                update(d)
                .where(d.c.id == bindparam("delivery"))
                .values(
                    attempts=d.c.attempts + 1,
                    last_error=bindparam("error"),
                    locked_until=None,
                    next_attempt_at=bindparam("at"),
                ),
                [
                    {
                        "delivery": o.row.id,
                        "error": o.detail[:1000],
                        "at": domain.quiet_until(
                            now
                            + domain.backoff(
                                o.row.attempts + 1, settings.delivery_backoff_seconds, jitter=random.random()
                            ),
                            o.row.quiet_start,
                            o.row.quiet_end,
                        ),
                    }
                    for o in again
                ],
            )
        for o in failed:
            if o not in again:
                await _give_up(session, service, o.row, attempts=o.row.attempts + 1, detail=o.detail)


async def _give_up(session: Any, service: Service, row: Any, *, attempts: int, detail: str) -> None:
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
                select(d.c.channel).where(d.c.notification_id == row.notification_id, d.c.contact_id == row.contact_id)
            )
        )
        .scalars()
        .all()
    )
    for channel in later:
        if channel not in tried and usable(row, channel, service.settings):
            now = (await session.execute(select(func.now()))).scalar_one()
            await session.execute(
                insert(d)
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


async def send_to_webhook(row: Any, *, service: Service, client: httpx.AsyncClient) -> str:
    settings = service.settings
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


class Recorder:
    """Records outcomes as they come, a batch per transaction (group commit): what arrives while
    one batch is written goes in the next."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.waiting: list[Outcome] = []
        self.writing: asyncio.Task[None] | None = None
        self.recorded = 0

    def add(self, outcome: Outcome) -> None:
        self.waiting.append(outcome)
        if self.writing is None or self.writing.done():
            self.writing = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while self.waiting:
            if len(self.waiting) < RECORD_AT_ONCE:
                await asyncio.sleep(RECORD_GAP_SECONDS)
            batch, self.waiting = self.waiting, []
            try:
                await record(self.service, batch)
                self.recorded += len(batch)
            except Exception:  # the leases expire and those deliveries are sent again, same Message-ID / key
                log.exception("notify: recording %d deliveries failed", len(batch))

    async def close(self) -> None:
        while self.writing is not None and not self.writing.done():
            await asyncio.shield(self.writing)


class Round:
    """One round of the worker: claim, send over SMTP sessions and webhooks side by side, record;
    claim again while more is due (or notifications keep coming); then close the sessions."""

    def __init__(self, service: Service, postman: Postman) -> None:
        self.service, self.postman = service, postman
        self.settings = service.settings
        self.letterhead = Letterhead.of(self.settings.smtp_from)
        self.recorder = Recorder(service)
        self.mail: collections.deque[tuple[Any, float]] = collections.deque()  # (row, start sending before)
        self.sessions: list[MailSession] = []  # every one of this round
        self.idle: list[MailSession] = []  # those no courier uses now (kept open)
        self.couriers: set[asyncio.Task[None]] = set()
        self.width = max(1, self.settings.smtp_sessions)  # sessions at once; fewer if the server refuses more
        # no session could be opened: mail claimed until then fails this attempt without trying
        self.down: tuple[DeliveryError, float] | None = None
        self.webhooks: set[asyncio.Task[None]] = set()
        self.gate = asyncio.Semaphore(WEBHOOKS_AT_ONCE)
        self.moved = asyncio.Event()  # a send finished, or new deliveries were committed
        self.poll = min(self.settings.delivery_poll_seconds, self.settings.sweep_interval_seconds)
        self.client: httpx.AsyncClient | None = None

    async def run(self) -> int:
        batch, total = self.settings.delivery_batch, 0
        async with contextlib.AsyncExitStack() as self.closing:
            try:
                while True:
                    self.postman.fresh = False
                    claimed_at = time.monotonic()
                    rows = await claim(self.service, batch)
                    total += len(rows)
                    self._dispatch(rows, start_before=claimed_at + lease(self.service).total_seconds())
                    if len(rows) < batch and not self.postman.fresh:
                        # all due is under way: wait for it, or for more to be committed, or for
                        # what comes due by the clock (retries) while a slow peer holds the round
                        await self._until(lambda: self.postman.fresh or not self._busy(), timeout=self.poll)
                        if not self.postman.fresh and not self._busy() and any(s.open for s in self.sessions):
                            # keep the sessions a moment for mail that follows (a burst of notifications)
                            await self._until(lambda: self.postman.fresh, timeout=LINGER_SECONDS)
                        if not self.postman.fresh and not self._busy():
                            return total
                    if not self.service.ready:  # stopping: finish what is under way, claim no more
                        await self._until(lambda: not self._busy())
                        return total
                    # claim more when the queue runs short, not for every notification committed
                    await asyncio.sleep(max(0.0, claimed_at + CLAIM_GAP_SECONDS - time.monotonic()))
                    await self._until(lambda: len(self.mail) < batch // 2)
            finally:
                for task in (*self.couriers, *self.webhooks):
                    task.cancel()
                await asyncio.gather(*self.couriers, *self.webhooks, return_exceptions=True)
                await self.recorder.close()
                await asyncio.gather(*(s.close() for s in self.sessions), return_exceptions=True)

    def _client(self) -> httpx.AsyncClient:
        """The round's HTTP client, made for its first webhook (making one costs about 30 ms of CPU:
        its TLS context), not for every round."""
        if self.client is None:
            # direct to the address destinations.py checked: no redirects, no proxy from the environment
            self.client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.webhook_timeout_seconds), follow_redirects=False, trust_env=False
            )
            self.closing.push_async_callback(self.client.aclose)
        return self.client

    def _busy(self) -> bool:
        return bool(self.mail or self.couriers or self.webhooks)

    async def _until(self, done: Any, timeout: float | None = None) -> None:  # noqa: ASYNC109 — a wait, not a deadline
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not done():
                    self.moved.clear()
                    await self.moved.wait()

    def _dispatch(self, rows: list[Any], *, start_before: float) -> None:
        start_before -= send_budget(self.service) + SEND_MARGIN_SECONDS
        for row in rows:
            if row.channel == "webhook":
                task = asyncio.create_task(self._webhook(row, start_before))
                self.webhooks.add(task)
                task.add_done_callback(self._finished(self.webhooks))
            else:
                self.mail.append((row, start_before))
        if self.down is not None and time.monotonic() < self.down[1]:
            self._fail_mail(self.down[0])
        else:
            self.down = None
        while self.mail and len(self.couriers) < min(self.width, len(self.mail)):
            if not self.idle:
                self.sessions.append(MailSession(self.settings))
                self.idle.append(self.sessions[-1])
            session = self.idle.pop()
            task = asyncio.create_task(self._courier(session))
            self.couriers.add(task)
            task.add_done_callback(self._finished(self.couriers))

    def _finished(self, tasks: set[asyncio.Task[None]]) -> Any:
        def done(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            self.moved.set()

        return done

    def _fail_mail(self, error: DeliveryError) -> None:
        """No mail session can be opened: what is queued fails this attempt as its own would."""
        while self.mail:
            row, _ = self.mail.popleft()
            self.recorder.add(Outcome(row, ok=False, detail=str(error), permanent=error.permanent))

    async def _courier(self, session: MailSession) -> None:
        """Send the queued mails one after another over one session."""
        try:
            while self.mail:
                row, start_before = self.mail.popleft()
                if time.monotonic() > start_before:
                    self.recorder.add(Outcome(row, ok=False, tried=False))
                    continue
                try:
                    outcome = await self._mail(session, row)
                except Unreachable as exc:
                    if len(self.couriers) > 1:
                        # others have (or are opening) a session: perhaps the server takes no more
                        # at once; the mail waits its turn, the last courier standing decides
                        self.mail.appendleft((row, start_before))
                        self.width = max(1, sum(s.open for s in self.sessions))
                        return
                    self.down = (exc, time.monotonic() + DOWN_SECONDS)
                    self.recorder.add(Outcome(row, ok=False, detail=str(exc), permanent=exc.permanent))
                    self._fail_mail(exc)
                    return
                except Exception:  # noqa: BLE001 — a bug in one send must not stop the others
                    log.exception("notify: delivery %s failed unexpectedly", row.id)
                    outcome = Outcome(row, ok=False, detail="lỗi không lường trước")
                self.recorder.add(outcome)
                self.moved.set()
        finally:
            self.idle.append(session)

    async def _mail(self, session: MailSession, row: Any) -> Outcome:
        started = time.monotonic()
        try:
            to = Address.of(row.email)
        except BadAddress:
            return Outcome(row, ok=False, detail="địa chỉ thư không hợp lệ", permanent=True)
        text = self.postman.templates.email(
            {"contact_name": row.contact_name, "title": row.title, "body": row.body, "link": row.link, "unit_name": ""}
        )
        message = self.letterhead.letter(
            to_name=row.contact_name, to=to, subject=row.title, text=text, key=row.idempotency_key
        )
        try:
            detail = await session.send(self.letterhead.sender.envelope, to.envelope, message, utf8=to.utf8)
        except Unreachable:
            raise
        except DeliveryError as exc:
            # how long an unanswered attempt took would tell a closed port from a silent one
            took = int((time.monotonic() - started) * 1000) if exc.answered else 0
            return Outcome(row, ok=False, detail=str(exc), permanent=exc.permanent, took_ms=took)
        failpoints.hit("notify.sent")  # a crash here: sent again, same Message-ID
        return Outcome(row, ok=True, detail=detail, took_ms=int((time.monotonic() - started) * 1000))

    async def _webhook(self, row: Any, start_before: float) -> None:
        async with self.gate:
            if time.monotonic() > start_before:
                self.recorder.add(Outcome(row, ok=False, tried=False))
                return
            started = time.monotonic()
            try:
                detail = await send_to_webhook(row, service=self.service, client=self._client())
            except DeliveryError as exc:
                took = int((time.monotonic() - started) * 1000) if exc.answered else 0
                self.recorder.add(Outcome(row, ok=False, detail=str(exc), permanent=exc.permanent, took_ms=took))
                return
            except Exception:  # noqa: BLE001 — a bug in one send must not stop the others
                log.exception("notify: delivery %s failed unexpectedly", row.id)
                self.recorder.add(Outcome(row, ok=False, detail="lỗi không lường trước"))
                return
            failpoints.hit("notify.sent")  # a crash here: sent again, same key
            self.recorder.add(Outcome(row, ok=True, detail=detail, took_ms=int((time.monotonic() - started) * 1000)))


class Postman:
    """The delivery worker of one notify process: the periodic job (`deliver_pending`), and a
    round started at once when this process commits new deliveries (`kick`). One round at a
    time per process; replicas share the work through the leases."""

    def __init__(self, templates: Templates) -> None:
        self.templates = templates
        self.lock = asyncio.Lock()
        self.fresh = False  # deliveries committed since the last claim
        self.round: Round | None = None
        self.service: Service | None = None
        self.kicked: asyncio.Task[None] | None = None
        self.homes: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    async def deliver_pending(self, service: Service) -> int:
        """Send what is due; go on while more keeps coming."""
        self._attach(service)
        async with self.lock:
            return await self._rounds(service)

    async def _rounds(self, service: Service) -> int:
        total = 0
        while True:
            self.round = Round(service, self)
            try:
                total += await self.round.run()
            finally:
                self.round = None
            if not self.fresh or not service.ready:  # nothing committed while the round closed
                return total

    def _attach(self, service: Service) -> None:
        self.service = service
        _postmen[service.engine.sync_engine] = self
        # a round started by a commit ends with the task that runs the periodic job (the service's stop)
        home = asyncio.current_task()
        if home is not None and home not in self.homes:
            self.homes.add(home)
            home.add_done_callback(lambda _: self.kicked.cancel() if self.kicked is not None else None)

    def kick(self) -> None:
        """New deliveries were committed: the round under way claims them, or one starts now."""
        self.fresh = True
        if self.round is not None:
            self.round.moved.set()
            return
        service = self.service
        if service is None or not service.ready or self.lock.locked():
            return
        if self.kicked is None or self.kicked.done():
            self.kicked = asyncio.get_running_loop().create_task(self._kicked(service))

    async def _kicked(self, service: Service) -> None:
        try:
            async with self.lock:
                await self._rounds(service)
        except Exception:
            log.exception("notify: delivery round failed")


# Which worker a committed session wakes: the one of the service whose engine it used.
_postmen: weakref.WeakKeyDictionary[Engine, Postman] = weakref.WeakKeyDictionary()
ADDED = "cchc.notify.deliveries_added"


@event.listens_for(ScopedSession, "do_orm_execute")
def _note_added(state: ORMExecuteState) -> None:
    if state.is_insert and getattr(state.statement, "table", None) is d:
        state.session.info[ADDED] = True


def note_redriven(session: Any) -> None:
    """Deliveries made due again (a re-drive): wake the worker when the transaction commits."""
    session.info[ADDED] = True


@event.listens_for(ScopedSession, "after_commit")
def _wake_worker(session: Session) -> None:
    if session.info.pop(ADDED, False) and (postman := _postmen.get(session.bind)) is not None:  # type: ignore[arg-type]
        postman.kick()


@event.listens_for(ScopedSession, "after_rollback")
def _forget_added(session: Session) -> None:
    session.info.pop(ADDED, None)


def delivery_job(templates: Templates) -> Any:
    postman = Postman(templates)

    async def deliver_pending(service: Service) -> int:
        return await postman.deliver_pending(service)

    deliver_pending.interval = lambda settings: min(settings.delivery_poll_seconds, settings.sweep_interval_seconds)  # type: ignore[attr-defined]
    return deliver_pending
