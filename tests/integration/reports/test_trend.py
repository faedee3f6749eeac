"""The trend over a year (GET /api/reports/trend): each quarter's figures are the roll-up of that
quarter, whatever period of the year is asked for."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import System
from tests.integration.plans_data import AREAS_PLAN

pytestmark = pytest.mark.integration

FIGURES = ("expected", "reported", "on_time", "completeness", "timeliness", "states")


async def answer(system: System, path: str, **params: Any) -> dict[str, Any]:
    response = await system.get(f"/api/reports/{path}", params={"unit": "52", **params})
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_trend_of_a_year_gives_each_quarter_the_figures_of_its_rollup(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=AREAS_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    async def all_assigned() -> bool:  # the units and the assignments have reached the read model
        body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026-Q4"})).json()
        return body.get("expected") == 270

    await system.eventually(all_assigned)
    commune = (await system.get("/api/units", params={"parent": "52"})).json()["items"][0]["code"]
    items = (await system.get("/api/assignments", params={"unit": commune, "period": "2026-Q1"})).json()["items"]
    sent = await system.post(
        f"/api/assignments/{items[0]['id']}/progress",
        json={"period": "2026-Q1", "status": "done", "outputs": {"broadcast": 2}},
    )
    assert sent.status_code == 201, sent.text

    async def counted() -> bool:
        return (await answer(system, "rollup", period="2026-Q1"))["reported"] == 1

    await system.eventually(counted)
    trend = await answer(system, "trend", period="2026-9M")
    assert [item["period"] for item in trend["items"]] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert trend["items"][0]["label"] == "quý I năm 2026"
    for item in trend["items"]:
        rollup = await answer(system, "rollup", period=item["period"])
        assert {k: item[k] for k in FIGURES} == {k: rollup[k] for k in FIGURES}
    assert [item["reported"] for item in trend["items"]] == [1, 0, 0, 0]
    assert trend["items"][0]["completeness"] == round(1 / 270, 4)
