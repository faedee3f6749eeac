"""How a service's consumers stop (SIGTERM), in order and within a bound: the pull loops stop
fetching; a message fetched but not started is nak'd, so JetStream redelivers it at once (to
another replica when one runs) instead of after ack_wait; a handler already running finishes —
commits and acks — within the bound, and one that overruns it is nak'd and cancelled (its
transaction rolls back).

faststream 0.7.8's own stop waits for the running handlers up to its graceful_timeout (15 s, one
subscriber after another) and then cancels them unacked, and drops unacked the messages its pull
loops have fetched and not handed over: both wait for ack_wait before anyone gets them again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

import nats.errors
from faststream.nats import NatsBroker
from nats.js import JetStreamContext

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
# Nothing handed over for this long, no handler running and every loop idle: what was fetched has
# all come through (a message between a loop's queue and its handler takes a few event-loop turns).
QUIET_SECONDS = 0.2
# After the handlers' bound: nak the overrunning ones, cancel them, stop the subscriptions.
CLEANUP_SECONDS = 1.0


@dataclass(frozen=True)
class Drained:
    """What a stop did with the messages it found."""

    finished: int  # handled to the end (committed and acked, or nak'd by their own error path)
    returned: int  # fetched but not started: nak'd, redelivered at once
    overran: int  # still being handled at the bound: nak'd, their handlers cancelled (all counts: messages)
    seconds: float


class Drain:
    """The gate every handler of one broker passes (shared/bus.py `attach`), and its stop."""

    def __init__(self) -> None:
        self.stopping = False
        self._handling: dict[asyncio.Task[Any], Sequence[Any]] = {}  # running handlers and their messages
        self._last_change = 0.0
        self._finished = 0
        self._returned = 0

    async def admit(self, raws: Sequence[Any]) -> bool:
        """Whether to handle these messages; when stopping they are nak'd instead."""
        if not self.stopping:
            return True
        self._last_change = asyncio.get_running_loop().time()
        for raw in raws:
            await _nak(raw)
        self._returned += len(raws)
        return False

    async def run(self, raws: Sequence[Any], work: Awaitable[None]) -> None:
        """Handle the messages: `work` runs in a task of its own, so that a stop can cancel an
        overrunning one alone and the slot it held lets the messages queued behind it through
        (to be nak'd), where cancelling faststream's task would cancel its whole task group."""
        task = asyncio.ensure_future(work)
        self._handling[task] = raws
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            # an overrunning handler was taken out when its messages were nak'd: not "finished"
            if self._handling.pop(task, None) is not None and self.stopping and not task.cancelled():
                self._finished += len(raws)
            self._last_change = asyncio.get_running_loop().time()
        if not task.cancelled():
            task.result()  # its error, if any, as if it had run here

    async def stop(self, subscribers: Sequence[Any], *, seconds: float) -> Drained:
        """Stop the subscribers: within `seconds` the running handlers finish and every message
        fetched and not started is nak'd; then, within CLEANUP_SECONDS, the overrunning handlers
        are nak'd and cancelled, what waited behind them nak'd, and the subscriptions closed."""
        clock = asyncio.get_running_loop().time
        began = clock()
        self.stopping = True
        self._last_change = began
        loops = [parked for parked in (_park(s) for s in subscribers) if parked is not None]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._settled(loops)
        overran = dict(self._handling)
        self._handling.clear()
        for task, raws in overran.items():
            log.warning("stopping: a handler of %d message(s) overran %.1f s; nak'd and cancelled", len(raws), seconds)
            for raw in raws:
                await _nak(raw)
            task.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLEANUP_SECONDS / 2):
                if overran:
                    await asyncio.wait(list(overran))  # rolled back
                await self._settled(loops)  # what waited behind them came through and was nak'd
        try:
            async with asyncio.timeout(CLEANUP_SECONDS / 2):
                for subscriber in subscribers:
                    self._returned += await _return_pending(subscriber)
                await asyncio.gather(*(s.stop() for s in subscribers), return_exceptions=True)
        except TimeoutError:
            log.warning("stopping: the subscriptions did not close within %.1f s", CLEANUP_SECONDS)
        drained = Drained(self._finished, self._returned, sum(map(len, overran.values())), clock() - began)
        # a broker started again (tests run a service's lifespan more than once) takes messages again
        self.stopping, self._finished, self._returned = False, 0, 0
        return drained

    async def _settled(self, loops: list[list[int]]) -> None:
        """Until no handler runs, every pull loop is idle and nothing came through for a while."""
        clock = asyncio.get_running_loop().time
        while True:
            idle = all(calls[0] >= 2 for calls in loops)  # the first may come before a loop hands over
            if idle and not self._handling and clock() - self._last_change >= QUIET_SECONDS:
                return
            await asyncio.sleep(POLL_SECONDS)


def _park(subscriber: Any) -> list[int] | None:
    """Make the subscriber's pull loop idle: its next fetches return nothing, so it hands over
    what it holds (the gate nak's it) and takes no more. Returns the count of idle fetches."""
    subscription = getattr(subscriber, "subscription", None)
    if subscription is None or not hasattr(subscription, "fetch"):
        return None
    calls = [0]

    async def idle_fetch(*_: Any, **__: Any) -> list[Any]:  # fetch(batch=…, timeout=…)
        calls[0] += 1
        await asyncio.sleep(POLL_SECONDS)
        raise nats.errors.TimeoutError  # what an empty fetch raises: faststream's loop goes round

    subscription.fetch = idle_fetch
    return calls


async def _return_pending(subscriber: Any) -> int:
    """Nak what a pull request delivered after its fetch gave up (a server-side expiry a moment
    after the client's): nats-py keeps it for the next fetch, which will not come."""
    subscription = getattr(subscriber, "subscription", None)
    queue = getattr(getattr(subscription, "_sub", None), "_pending_queue", None)
    returned = 0
    while queue is not None and not queue.empty():
        msg = queue.get_nowait()
        if msg.reply and not JetStreamContext.is_status_msg(msg):
            await _nak(msg)
            returned += 1
    return returned


async def _nak(raw: Any) -> None:
    try:
        await raw.nak()
    except Exception:  # noqa: BLE001 — the connection is gone: the message waits for ack_wait
        log.warning("stopping: could not nak %s; it is redelivered after ack_wait", getattr(raw, "subject", raw))


_drains: weakref.WeakKeyDictionary[NatsBroker, Drain] = weakref.WeakKeyDictionary()


def of(broker: NatsBroker) -> Drain:
    """The drain of this broker's consumers (one per service process)."""
    if broker not in _drains:
        _drains[broker] = Drain()
    return _drains[broker]
