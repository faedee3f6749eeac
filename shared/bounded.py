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
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from shared.errors import FieldProblem, InputError

T = TypeVar("T")
PRELOAD = ["services.plans.importer", "services.plans.directory", "services.reports.documents"]
_context: multiprocessing.context.ForkServerContext | None = None
_lock = threading.Lock()


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


def _work(conn: multiprocessing.connection.Connection, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
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
    process: multiprocessing.process.BaseProcess, conn: multiprocessing.connection.Connection, seconds: float
) -> tuple[bool, Any] | None:
    """The worker's answer, or None when the limit passed (then the worker is killed)."""
    answer: tuple[bool, Any] | None = None
    try:
        if conn.poll(seconds):
            try:
                answer = conn.recv()
            except EOFError:  # the worker died without answering (killed, out of memory)
                answer = (False, None)
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        conn.close()
    if answer == (False, None):
        return (False, RuntimeError(f"tiến trình xử lý dừng bất thường (mã {process.exitcode})"))
    return answer


async def in_process(function: Callable[..., T], *args: Any, seconds: float, field: str, what: str, setting: str) -> T:
    """`function(*args)` in a worker process; TooLong (503) past `seconds`, the worker killed."""
    context = _forkserver()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_work, args=(sender, function, args), daemon=True)
    await asyncio.to_thread(process.start)  # the first call starts the forkserver: not on the loop
    sender.close()
    answer = await asyncio.to_thread(_wait, process, receiver, seconds)
    if answer is None:
        raise TooLong(field=field, what=what, seconds=seconds, setting=setting)
    ok, value = answer
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]
