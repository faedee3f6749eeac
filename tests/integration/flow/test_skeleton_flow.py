"""The thin flow across all four services, in process, on real NATS JetStream and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.integration.conftest import System
from tests.integration.plans_data import QUARTERLY_PLAN

pytestmark = pytest.mark.integration


async def test_issuing_a_quarterly_plan_for_all_communes_fans_out_and_rolls_up(system: System) -> None:
    loaded = await system.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
    assert loaded.status_code == 200, loaded.text
    communes = (await system.get("/api/units", params={"parent": "52"})).json()["items"]
    assert len(communes) == 135

    created = await system.post("/api/plans", json=QUARTERLY_PLAN)
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    issued = await system.post(f"/api/plans/{plan_id}/issue")
    assert issued.status_code == 200, issued.text

    async def q1_assignments() -> list[dict]:
        items = (await system.get("/api/assignments", params={"unit": "21787", "period": "2026-Q1"})).json()["items"]
        return items

    items = await system.eventually(q1_assignments)
    assert [(i["plan_id"], i["task_ref"], i["period"], i["due"]) for i in items] == [
        (plan_id, "1", "2026-Q1", "2026-03-16")  # 15/03/2026 is a Sunday
    ]
    all_periods = (await system.get("/api/assignments", params={"unit": "21787"})).json()["items"]
    assert [i["period"] for i in all_periods] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]

    reporting = [c["code"] for c in communes[:10]]
    for code in reporting:
        own = (await system.get("/api/assignments", params={"unit": code, "period": "2026-Q1"})).json()["items"]
        response = await system.post(
            f"/api/assignments/{own[0]['id']}/progress",
            json={"period": "2026-Q1", "status": "done", "outputs": {"article": 2, "news": 1}},
        )
        assert response.status_code == 201, response.text

    async def rollup() -> dict | None:
        body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026-Q1"})).json()
        return body if body.get("reported") == 10 and body.get("expected") == 135 else None

    body = await system.eventually(rollup)
    assert body["outputs"] == {"article": 20, "news": 10}
    assert body["on_time"] == 10

    async def assigned_notifications() -> list[dict]:
        return (await system.get("/api/notifications", params={"unit": "21787"})).json()["items"]

    notes = await system.eventually(assigned_notifications)
    assert {n["kind"] for n in notes} == {"assigned"}
