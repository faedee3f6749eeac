"""A service stopped with SIGTERM in the middle of a burst of progress reports drains: the events
being handled are finished and acked, the ones fetched and not started are given back to the
stream (nak) and redelivered at once, the outbox is published; the process exits 0 within its
bound, the supervisor starts it again, and every report is rolled up once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from shared.runtime import STOP_SECONDS
from tests.e2e.conftest import Running, operated
from tests.e2e.steps import THIS_YEAR, all_rolled_up, burst_outputs, eventually, province_assignments, report_burst

pytestmark = pytest.mark.e2e


@pytest.fixture
def up_env(up_env: dict[str, str]) -> dict[str, str]:
    # A message a stop left unacked would come back only after ten minutes, long after the
    # roll-up is awaited: the test sees such a message as a report missing, not as a slow one.
    return {**up_env, "CCHC_ACK_WAIT_SECONDS": "600"}


def seconds_to_exit(process: psutil.Process, *, limit: float) -> float:
    """How long the process takes to end (a zombie not yet reaped by its supervisor has ended)."""
    began = time.monotonic()
    with contextlib.suppress(psutil.NoSuchProcess):
        while process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
            if time.monotonic() - began > limit:
                break
            time.sleep(0.05)
    return time.monotonic() - began


@pytest.mark.parametrize(
    "service",
    [
        "reports",  # the batched consumer of the progress events
        "tasks",  # the service taking the reports over HTTP and publishing them through its outbox
    ],
)
async def test_sigterm_in_a_burst_drains_exits_0_within_its_bound_and_every_report_is_rolled_up_once(
    system_up: Running, service: str
) -> None:
    year = THIS_YEAR + 1
    async with await operated(system_up.base_url) as api:
        targets = await province_assignments(api, year, "22/KH-UBND")
        pid = system_up.services()[service]["pid"]
        process = psutil.Process(pid)
        stopped_after: list[float] = []

        async def terminate() -> None:
            os.kill(pid, signal.SIGTERM)
            stopped_after.append(await asyncio.to_thread(seconds_to_exit, process, limit=STOP_SECONDS + 10))

        await report_burst(api, targets, year, midway=terminate)
        # the supervisor polls every half second: the bound plus that, and a margin for a busy machine
        assert stopped_after[0] < STOP_SECONDS + 3, f"{service} took {stopped_after[0]:.1f} s to stop"

        async def exit_said() -> bool:
            return f"Dịch vụ {service} đã dừng (mã 0)" in system_up.output.read_text()

        await eventually(exit_said, timeout=10)

        async def restarted() -> bool:
            return system_up.services()[service]["pid"] not in (None, pid)

        await eventually(restarted, timeout=30)
        body = await eventually(lambda: all_rolled_up(api, year), timeout=90)
        assert body["outputs"] == burst_outputs(len(targets))
    log = Path(system_up.services()[service]["log"]).read_text()  # noqa: ASYNC240 - the test is over
    assert f"{service} stopped in" in log, log[-3000:]
