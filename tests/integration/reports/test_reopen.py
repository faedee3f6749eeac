"""Reopening an accepted report on real servers: only the direct parent's head reopens, only an
accepted report, only with a reason; the report then reads "reopened" (not "returned") in its
history and in the parent's view of its children, the tasks service unlocks the period, the
notify service tells the commune the reason, and the commune resubmits it as the next version."""

from __future__ import annotations

import pytest

from tests.integration.conftest import System, head, officer
from tests.integration.plans_data import AREAS_PLAN
from tests.integration.reports.test_submissions import COMMUNE, URL, notes, path_of, report

pytestmark = pytest.mark.integration


async def test_the_province_reopens_an_accepted_report_with_a_reason_and_the_commune_resubmits(
    system: System,
) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=AREAS_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200
    commune_path = await path_of(system, COMMUNE)
    commune_officer = officer(commune_path)
    commune, province = system.as_(head(commune_path)), system.as_(head("52"))

    async def assigned() -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": COMMUNE, "period": "2026-Q1"})).json()
        return body.get("expected") == 2

    await system.eventually(assigned)
    assert (await commune.post(f"{URL}/submit", json={})).status_code == 201
    waiting = await province.post(f"{URL}/reopen", json={"reason": "Bổ sung số liệu"})
    assert waiting.status_code == 409 and "không thể mở lại" in waiting.json()["message"]
    assert (await province.post(f"{URL}/accept", json={})).status_code == 200

    async def locked() -> bool:
        return await report(system, commune_officer, "1", "in_progress") == 409

    await system.eventually(locked)
    assert (await commune.post(f"{URL}/reopen", json={"reason": "x"})).status_code == 403  # not its own parent
    no_reason = await province.post(f"{URL}/reopen", json={"reason": "  "})
    problem = no_reason.json()["detail"][0]
    assert no_reason.status_code == 422 and problem["field"] == "reason" and "lý do mở lại" in problem["msg"]

    reopened = await province.post(f"{URL}/reopen", json={"reason": "Bổ sung kết quả nhiệm vụ 1"})
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "reopened" and reopened.json()["status_label"] == "Đã mở lại để điều chỉnh"
    assert (await province.post(f"{URL}/reopen", json={"reason": "lần nữa"})).status_code == 409

    async def unlocked() -> bool:
        return await report(system, commune_officer, "1", "done") == 201

    await system.eventually(unlocked)
    told = await system.eventually(lambda: notes(system, "report_returned"))
    assert "Bổ sung kết quả nhiệm vụ 1" in told[0]["body"]
    view = (await province.get("/api/reports/52/2026-Q1/children-submissions")).json()
    row = next(i for i in view["items"] if i["unit"] == COMMUNE)
    assert row["status"] == "reopened" and view["counts"]["reopened"] == 1

    async def counted() -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": COMMUNE, "period": "2026-Q1"})).json()
        return body["reported"] == 1

    await system.eventually(counted)
    again = await commune.post(f"{URL}/submit", json={})
    assert again.status_code == 201 and again.json()["version"] == 2
    listing = (await commune.get(f"{URL}/submissions")).json()
    assert listing["due"] == row["due"]  # the commune's own deadline, as its parent sees it
    versions = listing["items"]
    assert [(v["version"], v["status"]) for v in versions] == [(2, "submitted"), (1, "reopened")]
    assert versions[1]["reason"] == "Bổ sung kết quả nhiệm vụ 1"
