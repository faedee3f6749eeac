"""Edges found in review: large fan-outs, absurd numbers, impossible periods, forged subjects."""

from __future__ import annotations

import uuid

import nats
import pytest

from shared.events import stream_name
from tests.integration.conftest import System
from tests.integration.plans_data import QUARTERLY_PLAN
from tests.integration.steps import assignment_event, dead_letters, notifications_for

pytestmark = pytest.mark.integration


async def test_a_plan_fanning_out_to_thousands_of_assignments_creates_them_all(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    monthly = {**QUARTERLY_PLAN["tasks"][0], "timeline": "hằng tháng"}
    plan = {
        **QUARTERLY_PLAN,
        "number": "77/KH-UBND",
        "tasks": [{**monthly, "ref": str(i), "title": f"Nhiệm vụ {i}"} for i in range(1, 4)],
    }
    plan_id = (await system.post("/api/plans", json=plan)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    async def all_rolled_up() -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026"})).json()
        return body.get("expected") == 135 * 12 * 3  # 4,860 rows: over 32,767 parameters in one statement

    await system.eventually(all_rolled_up, timeout=300)  # correctness, not speed: see bench/
    assert await dead_letters(system) == []


async def test_numbers_periods_and_titles_that_cannot_be_real_are_refused_by_field(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    cases = [
        ({"period": "0001"}, "period"),
        ({"title": "   "}, "title"),
        ({"period": "2026-03"}, "tasks[0].timeline"),  # a quarterly task has no occurrence in one month
        (
            {"tasks": [{**QUARTERLY_PLAN["tasks"][0], "products": [{"kind": "article", "target": 10**12}]}]},
            "tasks[0].products[0].target",
        ),
    ]
    for change, field in cases:
        refused = await system.post("/api/plans", json={**QUARTERLY_PLAN, **change})
        assert refused.status_code == 422, (change, refused.text)
        assert field in {p["field"] for p in refused.json()["detail"]}, (change, refused.json())
    rollup = await system.get("/api/reports/rollup", params={"unit": "52", "period": "0000"})
    assert rollup.status_code == 422 and rollup.json()["detail"][0]["field"] == "period"

    plan_id = (await system.post("/api/plans", json=QUARTERLY_PLAN)).json()["id"]
    await system.post(f"/api/plans/{plan_id}/issue")

    async def an_assignment() -> list:
        return (await system.get("/api/assignments", params={"unit": "21787", "period": "2026-Q1"})).json()["items"]

    assignment = (await system.eventually(an_assignment))[0]
    huge = await system.post(
        f"/api/assignments/{assignment['id']}/progress",
        json={"period": "2026-Q1", "status": "done", "outputs": {"article": 10**19}},
    )
    assert huge.status_code == 422 and huge.json()["detail"][0]["field"] == "outputs.article"


async def test_an_event_whose_subject_names_another_unit_is_dead_lettered(system: System) -> None:
    body, assignment_id, _ = assignment_event("21787")
    client = await nats.connect(system.settings.nats_url)
    prefix = system.settings.nats_prefix
    # published under another commune's subject: permissions would allow it, the payload lies
    await client.jetstream().publish(
        f"{prefix}.assignment.created.52.21790",
        body,
        stream=stream_name(prefix, "assignment"),
        headers={"Nats-Msg-Id": str(uuid.uuid4())},
    )
    await client.close()

    async def parked() -> list:
        return [m for m in await dead_letters(system) if m.data == body]

    letters = await system.eventually(parked)
    assert "does not match" in letters[0].headers["Cchc-Error"]
    assert await notifications_for(system, assignment_id) == 0
