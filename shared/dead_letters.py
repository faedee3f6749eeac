"""The dead-letter stream, read and re-driven.

A consumer parks what it cannot apply (shared.bus.dead_letter): the original bytes on
`<prefix>.dlq.<service>.<original subject>`, with the original subject, the reason and the
deliveries it took in headers. Once the cause is gone (a bug fixed, a prerequisite arrived late),
an operator re-drives a letter: its bytes go back to the original subject through JetStream, and
the letter is deleted, so that it is re-driven once and the letters left are what is still wrong.

A re-driven event reaches every consumer of its subject, not only the one that parked it: those
that applied it already find its id in their inbox and only ack it. It goes out under a message
id of its own, never the event's: JetStream's de-dup window would drop a copy under the event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.js.api import RawStreamMsg
from nats.js.errors import BadRequestError, NotFoundError

from shared import nats_security
from shared.events import DEAD_LETTER, EVENT_TYPES, FAMILIES, stream_name
from shared.settings import Settings

# The headers a dead letter carries (written by shared.bus.dead_letter), and the one a re-drive adds.
ORIGINAL_SUBJECT = "Cchc-Original-Subject"
ERROR = "Cchc-Error"
DELIVERIES = "Cchc-Deliveries"
REDRIVEN_FROM = "Cchc-Redriven-From"

NO_MESSAGE = 10037  # JetStream: no message at (or after) that sequence
NO_SEQUENCE = 10043  # JetStream: a delete of a sequence that is not (or no longer) there

T = TypeVar("T")


@dataclass(frozen=True)
class DeadLetter:
    """One parked message: where it came from, which service parked it, why, and its bytes."""

    seq: int  # its sequence in the dead-letter stream: how an operator names it
    service: str  # the consumer that parked it
    subject: str  # the original subject, `<prefix>.<event type>.<unit path>`
    event_type: str  # e.g. progress.reported ("" if the subject is not an event's)
    unit: str
    reason: str
    deliveries: int
    parked_at: datetime  # UTC, when it was parked
    data: bytes

    @property
    def family(self) -> str:
        return self.event_type.split(".", 1)[0]

    @property
    def event_id(self) -> str | None:
        """The id its envelope claims, if its bytes are JSON with one (a letter's payload, version
        or whole envelope may be what was wrong with it)."""
        try:
            claimed = json.loads(self.data).get("id")
            return str(uuid.UUID(claimed))
        except (ValueError, TypeError, AttributeError):
            return None


class NoSuchLetter(LookupError):
    """No dead letter under that sequence (re-driven already, or past the stream's age or size)."""


class CannotRedrive(ValueError):
    """A letter whose original subject is no event family's: there is no stream to send it back to."""


class Refused(RuntimeError):
    """The nats-server refused a request of this connection's user (a permissions violation)."""


def filter_subject(prefix: str, *, service: str | None = None, event_type: str | None = None) -> str:
    """The dead-letter subjects of one service and/or one event type or family (e.g.
    `progress.reported` or `progress`)."""
    original = f"{prefix}.{event_type}.>" if event_type else ">"
    return f"{prefix}.{DEAD_LETTER}.{service or '*'}.{original}"


def read(raw: RawStreamMsg, *, prefix: str) -> DeadLetter:
    """A message of the dead-letter stream as a DeadLetter (pure)."""
    headers = raw.headers or {}
    where = (raw.subject or "").removeprefix(f"{prefix}.{DEAD_LETTER}.")
    service, _, from_subject = where.partition(".")
    original = headers.get(ORIGINAL_SUBJECT) or from_subject
    event_type, unit = "", ""
    family, _, rest = original.removeprefix(f"{prefix}.").partition(".")
    verb, _, path = rest.partition(".")
    if original.startswith(f"{prefix}.") and f"{family}.{verb}" in EVENT_TYPES and path:
        event_type, unit = f"{family}.{verb}", path
    deliveries = headers.get(DELIVERIES, "")
    return DeadLetter(
        seq=int(raw.seq or 0),
        service=service,
        subject=original,
        event_type=event_type,
        unit=unit,
        reason=headers.get(ERROR, ""),
        deliveries=int(deliveries) if deliveries.isdigit() else 0,
        parked_at=raw.time or datetime.fromtimestamp(0, UTC),
        data=raw.data or b"",
    )


def redrive_id(letter: DeadLetter) -> str:
    """The Nats-Msg-Id of a letter's re-drive: never the event's id (JetStream would drop the copy
    within its de-dup window); the same for a retry of one re-drive, new for a letter parked again."""
    digest = hashlib.sha256(letter.subject.encode() + b"\n" + letter.data).hexdigest()[:16]
    return f"redrive-{letter.seq}-{digest}"


@dataclass(frozen=True)
class Redriven:
    """A letter sent back: where it went."""

    letter: DeadLetter
    stream: str  # the family stream it went back to
    seq: int  # its new sequence there
    duplicate: bool  # JetStream had this re-drive already (a retry within its de-dup window)


class DeadLetters:
    """The dead-letter stream of one deployment, through one NATS connection (`connected`)."""

    def __init__(self, client: Client, *, prefix: str, user: str | None = None) -> None:
        self.client = client
        self.user = user  # the NATS user it acts as (None: anonymous)
        self.js = client.jetstream()
        self.prefix = prefix
        self.stream = stream_name(prefix, DEAD_LETTER)
        self._refused = asyncio.Event()
        self._refusal = ""

    @classmethod
    @contextlib.asynccontextmanager
    async def connected(cls, settings: Settings) -> AsyncIterator[DeadLetters]:
        """Connected as `settings`' NATS user (the operator's, for the command line)."""
        letters: DeadLetters | None = None

        async def on_error(exc: Exception) -> None:
            # a refused publish gets no answer, only this asynchronous error: say it at once
            if letters is not None and "permissions violation" in str(exc).lower():
                letters._refusal = str(exc)
                letters._refused.set()

        client = await nats.connect(
            settings.nats_servers,
            **nats_security.connect_options(settings),
            error_cb=on_error,
            allow_reconnect=False,  # a command: a server that is not there is an error, not a wait
            connect_timeout=5,
        )
        letters = cls(client, prefix=settings.nats_prefix, user=settings.nats_user)
        try:
            yield letters
        finally:
            await client.drain()

    async def list_(self, *, service: str | None = None, event_type: str | None = None) -> list[DeadLetter]:
        """The letters of `service` and `event_type` (a type or a family; None: all), oldest first."""
        wanted = filter_subject(self.prefix, service=service, event_type=event_type)
        found: list[DeadLetter] = []
        seq = 1
        while True:
            try:
                raw = await self._answer(self.js.get_msg(self.stream, seq, subject=wanted, next=True))
            except NotFoundError as exc:
                if exc.err_code == NO_MESSAGE:
                    return found
                raise
            found.append(read(raw, prefix=self.prefix))
            seq = found[-1].seq + 1

    async def get(self, seq: int) -> DeadLetter:
        try:
            return read(await self._answer(self.js.get_msg(self.stream, seq)), prefix=self.prefix)
        except NotFoundError as exc:
            if exc.err_code == NO_MESSAGE:
                raise NoSuchLetter(seq) from None
            raise

    async def redrive(self, seq: int) -> Redriven:
        """Publish letter `seq`'s bytes to its original subject (acked by its family's stream),
        then delete the letter. If the publish fails, the letter stays; once deleted, it cannot
        be re-driven again (NoSuchLetter)."""
        letter = await self.get(seq)
        if letter.family not in FAMILIES:
            raise CannotRedrive(f"{letter.subject!r} is not the subject of an event family")
        stream = stream_name(self.prefix, letter.family)
        ack = await self._answer(
            self.js.publish(
                letter.subject,
                letter.data,
                stream=stream,
                headers={"Nats-Msg-Id": redrive_id(letter), REDRIVEN_FROM: str(letter.seq)},
            )
        )
        try:
            await self._answer(self.js.delete_msg(self.stream, letter.seq))
        except BadRequestError as exc:
            if exc.err_code != NO_SEQUENCE:
                raise
            # deleted by a concurrent re-drive of the same letter (same message id: stored once)
        return Redriven(letter, stream, ack.seq, bool(ack.duplicate))

    async def _answer(self, request: Awaitable[T]) -> T:
        """The request's answer; Refused as soon as the server reports a permissions violation
        (the request itself would only time out)."""
        self._refused.clear()
        answer: asyncio.Future[T] = asyncio.ensure_future(request)
        refused: asyncio.Future[Any] = asyncio.ensure_future(self._refused.wait())
        try:
            await asyncio.wait([answer, refused], return_when=asyncio.FIRST_COMPLETED)
        finally:
            refused.cancel()
        if answer.done():
            return answer.result()
        answer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await answer
        raise Refused(self._refusal)
