"""CPU-heavy work of a request (reading an uploaded plan, a report's DOCX/XLSX, the official units
of a province) run away from the event loop and within a time limit: in a worker process, killed
when the limit passes, so that no request holds a core longer than its setting says. A thread
cannot be stopped; a process can, and takes its memory with it.

Workers are forked from a forkserver that has already imported the heavy modules
(`PRELOAD`), so a call costs milliseconds of start-up, not a fresh interpreter
(bench/hostile_input.py measures it). The function and its arguments and result are pickled: they
must be module-level functions and plain data. An exception raised by the function is raised
again here; the time limit is `TooLong` (the HTTP edge answers 503, nothing stored)."""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import resource
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.errors import FieldProblem, InputError

T = TypeVar("T")
PRELOAD = ["services.plans.importer", "services.plans.directory", "services.reports.documents"]
_context: multiprocessing.context.ForkServerContext | None = None
_lock = threading.Lock()


@dataclass
class Capacity:
    """How much heavy work a service process does at once: `workers` at a time (a request beyond
    them waits up to `wait_seconds` for one, then is refused as busy), each worker limited to
    `memory_bytes` of address space (a document that needs more is refused, not the machine
    swapped)."""

    workers: int = 2
    wait_seconds: float = 10.0
    memory_bytes: int = 2 * 1024**3


capacity = Capacity()
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def configure(*, workers: int, wait_seconds: float, memory_bytes: int) -> None:
    """Set this process's capacity (a service does it at start, from CCHC_HEAVY_*)."""
    global capacity
    capacity = Capacity(workers=max(1, workers), wait_seconds=wait_seconds, memory_bytes=memory_bytes)
    _slots.clear()


def _slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _slots:
        _slots[loop] = asyncio.Semaphore(capacity.workers)
    return _slots[loop]


class Busy(InputError):
    """Every worker of this process is taken and none came free in time: 503, try again soon."""

    def __init__(self, *, field: str, what: str) -> None:
        message = f"{what}: máy chủ đang bận xử lý các yêu cầu nặng khác, hãy thử lại sau ít phút"
        super().__init__([FieldProblem(field, message)], status=503)


class TooBig(InputError):
    """The work needed more memory than a worker may have: 413 (the input is too heavy)."""

    def __init__(self, *, field: str, what: str, memory_bytes: int) -> None:
        limit = f"{memory_bytes / 1024**3:.1f}".replace(".", ",")
        message = (
            f"{what} cần quá {limit} GB bộ nhớ, giới hạn của máy chủ (CCHC_HEAVY_MEMORY_BYTES); hãy dùng tệp nhỏ hơn"
        )
        super().__init__([FieldProblem(field, message)], status=413)


class TooLong(InputError):
    """The work took longer than its limit: refused with 503 (the server's limit, not the input's
    fault as such, and worth trying again with a smaller file), naming the field and the setting."""

    def __init__(self, *, field: str, what: str, seconds: float, setting: str) -> None:
        limit = f"{seconds:g}".replace(".", ",")
        message = f"{what} cần quá {limit} giây, giới hạn của máy chủ ({setting}); hãy thử lại với tệp nhỏ hơn"
        super().__init__([FieldProblem(field, message)], status=503)


def _forkserver() -> multiprocessing.context.ForkServerContext:
    global _context
    with _lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _context = context
        return _context


def _work(
    conn: multiprocessing.connection.Connection, function: Callable[..., Any], args: tuple[Any, ...], memory: int
) -> None:
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        result: tuple[bool, Any] = (True, function(*args))
    except BaseException as exc:  # noqa: BLE001 — handed to the caller, who raises it again
        result = (False, exc)
    try:
        conn.send(result)
    except Exception as exc:  # noqa: BLE001 — an exception that does not pickle
        conn.send((False, RuntimeError(repr(exc))))
    finally:
        conn.close()


def _wait(
    process: multiprocessing.process.BaseProcess, conn: multiprocessing.connection.Connection, deadline: float
) -> tuple[bool, Any] | None:
    """The worker's answer, or None when the deadline (time.monotonic) passed first (then the
    worker is killed): an answer that came after it is refused too, however the waiting went."""
    answer: tuple[bool, Any] | None = None
    died = False
    try:
        remaining = deadline - time.monotonic()
        if remaining > 0 and conn.poll(remaining):
            try:
                answer = conn.recv()
            except EOFError:  # the worker died without answering (killed, out of memory)
                died = True
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        conn.close()
    return (False, WorkerDied(process.exitcode)) if died else answer


class WorkerDied(Exception):
    """The worker ended without an answer (killed by the system, a crash in a C library)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"tiến trình xử lý dừng bất thường (mã {exitcode})")


async def in_process(function: Callable[..., T], *args: Any, seconds: float, field: str, what: str, setting: str) -> T:
    """`function(*args)` in a worker process, at most `capacity.workers` at once (Busy, 503, when
    none comes free in time); TooLong (503) past `seconds`, the worker killed; TooBig (413) when it
    runs out of its memory."""
    slot = _slot()
    try:
        await asyncio.wait_for(slot.acquire(), timeout=capacity.wait_seconds)
    except TimeoutError:
        raise Busy(field=field, what=what) from None
    try:
        context = _forkserver()
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_work, args=(sender, function, args, capacity.memory_bytes), daemon=True)
        deadline = time.monotonic() + seconds  # the limit counts from the start, the worker's start included
        await asyncio.to_thread(process.start)  # the first call starts the forkserver: not on the loop
        sender.close()
        answer = await asyncio.to_thread(_wait, process, receiver, deadline)
    finally:
        slot.release()
    if answer is None:
        raise TooLong(field=field, what=what, seconds=seconds, setting=setting)
    ok, value = answer
    if not ok:
        if isinstance(value, MemoryError):
            raise TooBig(field=field, what=what, memory_bytes=capacity.memory_bytes) from None
        if isinstance(value, WorkerDied):  # most likely out of memory in a C library: the input's weight
            message = f"{what} không thực hiện được: {value}; hãy dùng tệp nhỏ hơn hoặc đơn giản hơn"
            raise InputError([FieldProblem(field, message)], status=422) from None
        raise value
    return value  # type: ignore[no-any-return]
