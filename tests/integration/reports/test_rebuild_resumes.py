"""A rebuild of the reports read model interrupted half-way resumes where it stopped: the
consumers' acks are its checkpoint. `cchc rebuild-reports --watch` follows it to the end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys

import nats
import pytest
from sqlalchemy import select

from services.reports import models as reports_models
from services.reports.handlers import subscriptions
from services.reports.rebuild import Progress, progress, rebuild, watch
from shared.db import system_scope
from tests.integration.conftest import System
from tests.integration.plans_data import AREAS_PLAN
from tests.integration.reports.test_reports_rebuild import publish_all, seed, snapshot

pytestmark = pytest.mark.integration


async def delivered(system: System) -> int:
    """Messages the reports consumers have delivered so far, redeliveries included."""
    client = await nats.connect(system.settings.nats_url)
    try:
        js, total = client.jetstream(), 0
        for sub in subscriptions(system.settings):
            info = await js.consumer_info(sub.stream(system.settings.nats_prefix), sub.durable("reports"))
            total += info.delivered.consumer_seq if info.delivered else 0
        return total
    finally:
        await client.close()


async def test_an_interrupted_rebuild_resumes_from_its_checkpoint_and_the_watch_follows_it(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=AREAS_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    async def assigned() -> bool:  # the units come on a consumer of their own
        body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026-Q1"})).json()
        return body.get("expected") == 135 * 2

    await system.eventually(assigned)
    await system.settled()
    a = reports_models.assignments
    with system_scope():
        async with system.services["reports"].sessions() as session:
            rows = (await session.execute(select(a).order_by(a.c.id))).all()
    rng = random.Random(7)
    envelopes, _ = seed(rows, rng)
    await publish_all(system, envelopes, rng)
    await system.settled()
    before = await snapshot(system)
    events = (await progress(system.settings)).applied

    await system.stop("reports")
    await rebuild(system.settings)
    waiting = await progress(system.settings)
    assert not waiting.started and waiting.applied == 0

    # Small batches, so that the replay is still under way when the service is stopped.
    full = system.settings
    system.settings = full.model_copy(update={"fetch_batch": 4, "consumer_batch": 4, "consumer_workers": 1})
    try:
        await system.start("reports")
        halfway: Progress | None = None
        async with contextlib.aclosing(watch(system.settings, every=0.02)) as updates:
            async for now in updates:
                if now.started and now.applied >= now.total // 3:
                    halfway = now
                    break
        await system.stop("reports")
    finally:
        system.settings = full
    assert halfway is not None and not halfway.done
    stopped = await progress(system.settings)
    assert 0 < stopped.applied < events and stopped.remaining > 0
    seen_before = await delivered(system)

    await system.start("reports")
    seen: list[Progress] = [now async for now in watch(system.settings, every=0.05)]
    assert seen[-1].done and seen[-1].applied == events
    assert all(x.applied <= y.applied for x, y in zip(seen, seen[1:], strict=False))
    # Resumed, not started over: after the restart the consumers delivered what remained (and
    # the few fetched and returned at the stop), not the whole streams again.
    again = await delivered(system) - seen_before
    assert again <= stopped.remaining + 12 * 4, (again, stopped)
    assert again < events
    await system.settled()
    assert await snapshot(system) == before

    # The operator's view of it: the command prints where the replay is, here at its end.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    env |= {
        "CCHC_NATS_URL": system.settings.nats_url or "",
        "CCHC_DATABASE_URL": system.settings.database_url or "",
        "CCHC_NATS_PREFIX": system.settings.nats_prefix,
    }
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cchc.cli",
        "rebuild-reports",
        "--watch",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(command.communicate(), 120)
    assert command.returncode == 0, err.decode()
    assert f"Xong: {events:,} sự kiện đã áp dụng".replace(",", ".") in out.decode()
