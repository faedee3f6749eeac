"""Heavy work in worker processes (shared/bounded.py): at most `workers` at once per process —
one more waits, then is refused as busy (503) —, each within its memory (a worker that needs more
is refused with 413, not the machine swapped) and its time (503, the worker killed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared import bounded
from shared.errors import InputError

pytestmark = pytest.mark.unit


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def hog(size: int) -> int:
    return len(bytearray(size))


@pytest.fixture
def one_worker() -> Iterator[None]:
    before = bounded.capacity
    bounded.configure(workers=1, wait_seconds=0.3, memory_bytes=1024**3)
    yield
    bounded.configure(workers=before.workers, wait_seconds=before.wait_seconds, memory_bytes=before.memory_bytes)


async def run(function: Any, *args: Any, seconds: float = 20.0) -> Any:
    return await bounded.in_process(function, *args, seconds=seconds, field="file", what="Đọc tệp", setting="S")


async def test_work_past_the_workers_waits_then_is_refused_as_busy(one_worker: None) -> None:
    first = asyncio.create_task(run(nap, 2.0))
    await asyncio.sleep(0.1)  # the first has the only worker
    with pytest.raises(bounded.Busy) as busy:
        await run(nap, 0.0)
    assert busy.value.status == 503 and busy.value.problems[0].field == "file"
    assert "đang bận" in busy.value.problems[0].message
    assert await first == 2.0
    assert await run(nap, 0.0) == 0.0  # the worker is free again


async def test_a_worker_that_needs_more_memory_than_it_may_have_is_refused(one_worker: None) -> None:
    with pytest.raises(InputError) as refused:
        await run(hog, 2 * 1024**3)
    assert refused.value.status == 413 and "bộ nhớ" in refused.value.problems[0].message
    assert await run(hog, 1024) == 1024


async def test_work_past_its_time_is_refused_and_the_worker_freed(one_worker: None) -> None:
    with pytest.raises(bounded.TooLong) as late:
        await run(nap, 5.0, seconds=0.2)
    assert late.value.status == 503 and "(S)" in late.value.problems[0].message
    assert await run(nap, 0.0) == 0.0
