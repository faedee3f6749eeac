"""Due-soon and overdue are detected from database state: once each, across restarts and clock
jumps, also for assignments created already overdue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integration.conftest import System
from tests.integration.plans_data import ONE_COMMUNE_PLAN
from tests.integration.steps import move_tasks_clock

pytestmark = pytest.mark.integration


async def notes(system: System, kind: str) -> list[dict]:
    return (await system.get("/api/notifications", params={"unit": "21787", "kind": kind})).json()["items"]


async def issue(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
    await system.post(f"/api/plans/{plan_id}/issue")

    async def assigned() -> list:
        return (await system.get("/api/assignments", params={"unit": "21787"})).json()["items"]

    await system.eventually(assigned)


async def test_due_soon_is_sent_once_per_lead_time_across_restarts(system: System) -> None:
    await issue(system)  # 10/02/2026: Q1 (due 16/03) is 34 days away, nothing is due soon
    await system.run_jobs("tasks")
    await system.settled()
    assert await notes(system, "due_soon") == []

    await move_tasks_clock(system, datetime(2026, 3, 10, 1, tzinfo=UTC))  # 6 days left: the 7-day reminder
    first = await system.eventually(lambda: notes(system, "due_soon"))
    assert len(first) == 1 and "còn 6 ngày" in first[0]["title"]

    await move_tasks_clock(system, datetime(2026, 3, 11, 1, tzinfo=UTC))  # restart in the same window
    await system.run_jobs("tasks")
    await system.settled()
    assert len(await notes(system, "due_soon")) == 1

    await move_tasks_clock(system, datetime(2026, 3, 15, 1, tzinfo=UTC))  # 1 day left

    async def both() -> list | None:
        found = await notes(system, "due_soon")
        return found if len(found) == 2 else None

    found = await system.eventually(both)
    assert "còn 1 ngày" in found[0]["title"]
    await system.run_jobs("tasks")
    await system.settled()
    assert len(await notes(system, "due_soon")) == 2


async def test_overdue_is_sent_exactly_once_across_a_restart_and_a_clock_jump(system: System) -> None:
    await issue(system)
    await move_tasks_clock(system, datetime(2026, 7, 1, 1, tzinfo=UTC))  # Q1 and Q2 have passed

    async def two() -> list | None:
        found = await notes(system, "overdue")
        return found if len(found) == 2 else None

    await system.eventually(two)
    await move_tasks_clock(system, datetime(2026, 7, 2, 1, tzinfo=UTC))
    await move_tasks_clock(system, datetime(2027, 1, 5, 1, tzinfo=UTC))  # a jump: Q3 and Q4 too

    async def four() -> list | None:
        found = await notes(system, "overdue")
        return found if len(found) == 4 else None

    await system.eventually(four)
    await system.run_jobs("tasks")
    await system.settled()
    assert len(await notes(system, "overdue")) == 4


async def test_a_due_date_moved_by_an_amendment_is_reminded_again(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
    await system.post(f"/api/plans/{plan_id}/issue")
    await system.eventually(lambda: system.get("/api/assignments", params={"unit": "21787"}))
    await move_tasks_clock(system, datetime(2026, 3, 10, 1, tzinfo=UTC))  # 7-day reminder for 16/03
    await system.eventually(lambda: notes(system, "due_soon"))

    # The province gives communes until the 20th: 20/03 is 10 days away, then 6 days away.
    later = {**ONE_COMMUNE_PLAN, "due_rules": {"cutoff_day": 19}}
    assert (await system.post(f"/api/plans/{plan_id}/amend", json=later)).status_code == 200

    async def moved() -> bool:
        items = (await system.get("/api/assignments", params={"unit": "21787", "period": "2026-Q1"})).json()["items"]
        return items[0]["due"] == "2026-03-20"

    await system.eventually(moved)
    await move_tasks_clock(system, datetime(2026, 3, 14, 1, tzinfo=UTC))

    async def two() -> list | None:
        found = await notes(system, "due_soon")
        return found if len(found) == 2 else None

    found = await system.eventually(two)
    assert "20/03/2026" in found[0]["body"] and "16/03/2026" in found[1]["body"]
