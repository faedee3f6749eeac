"""The skeleton's public HTTP contract, on a real `cchc up` (four processes, NATS, PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest

from shared.workdays import WorkingCalendar
from tests.e2e.steps import THIS_YEAR, eventually, issue, quarterly_plan

pytestmark = pytest.mark.e2e


async def test_province_plan_fans_out_to_communes_and_rolls_up_reported_progress(api: httpx.AsyncClient) -> None:
    loaded = await api.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
    assert loaded.status_code == 200, loaded.text
    children = await api.get("/api/units", params={"parent": "52"})
    communes = children.json()["items"]
    assert len(communes) == 135
    vinh_son = next(c for c in communes if c["code"] == "21787")
    assert (vinh_son["name"], vinh_son["level"]) == ("Xã Vĩnh Sơn", "commune")

    year = THIS_YEAR + 1  # nothing of this plan is due yet
    plan_id = await issue(api, quarterly_plan(year, "15/KH-UBND"))

    async def fanned_out() -> dict | None:
        body = (await api.get("/api/reports/rollup", params={"unit": "52", "period": f"{year}"})).json()
        return body if body.get("expected") == 135 * 4 else None

    await eventually(fanned_out)
    own = (await api.get("/api/assignments", params={"unit": "21787", "period": f"{year}-Q1"})).json()["items"]
    assert [(a["plan_id"], a["task_ref"], a["period"], a["due"]) for a in own] == [
        (plan_id, "1", f"{year}-Q1", WorkingCalendar().on_or_after(date(year, 3, 15)).isoformat())
    ]

    # Evidence goes through the single base URL too: uploaded, cited, downloaded unchanged.
    scan = b"%PDF-1.4\n%%EOF\n" + bytes(range(256)) * 40
    uploaded = await api.post(
        f"/api/assignments/{own[0]['id']}/evidence", files={"file": ("Biên bản hội nghị.pdf", scan, "application/pdf")}
    )
    assert uploaded.status_code == 201 and uploaded.json()["size"] == len(scan), uploaded.text
    assert (await api.get(uploaded.json()["url"])).content == scan

    reporters = ["21787", *[c["code"] for c in communes if c["code"] != "21787"][:19]]
    for index, code in enumerate(reporters):
        assignment = (await api.get("/api/assignments", params={"unit": code, "period": f"{year}-Q1"})).json()["items"][
            0
        ]
        evidence = [{"kind": "file", "file_id": uploaded.json()["id"]}] if code == "21787" else []
        reported = await api.post(
            f"/api/assignments/{assignment['id']}/progress",
            json={
                "period": f"{year}-Q1",
                "status": "done",
                "outputs": {"article": 1 + index % 3, "news": 2},
                "evidence": evidence,
            },
        )
        assert reported.status_code == 201, reported.text

    async def rolled_up() -> dict | None:
        body = (await api.get("/api/reports/rollup", params={"unit": "52", "period": f"{year}-Q1"})).json()
        return body if body.get("reported") == 20 else None

    body = await eventually(rolled_up)
    assert (body["expected"], body["reported"], body["on_time"]) == (135, 20, 20)
    assert body["outputs"] == {"article": sum(1 + i % 3 for i in range(20)), "news": 40}
    commune_view = (await api.get("/api/reports/rollup", params={"unit": reporters[0], "period": f"{year}-Q1"})).json()
    assert (commune_view["expected"], commune_view["reported"]) == (1, 1)

    async def assigned() -> list | None:
        items = (await api.get("/api/notifications", params={"unit": "21787"})).json()["items"]
        return items if len(items) == 4 else None

    notes = await eventually(assigned)
    assert {n["kind"] for n in notes} == {"assigned"}
    assert all("Xã Vĩnh Sơn" in n["body"] for n in notes)


async def test_assignments_created_already_overdue_notify_the_unit_once(api: httpx.AsyncClient) -> None:
    await api.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
    await issue(api, quarterly_plan(THIS_YEAR - 1, "03/KH-UBND"))

    async def overdue() -> list | None:
        items = (await api.get("/api/notifications", params={"unit": "21787", "kind": "overdue"})).json()["items"]
        return items if len(items) == 4 else None

    notes = await eventually(overdue)
    assert sorted(n["title"] for n in notes)[0].startswith("Quá hạn")
    await asyncio.sleep(3)  # several more sweeps: still one notification per occurrence
    again = (await api.get("/api/notifications", params={"unit": "21787", "kind": "overdue"})).json()["items"]
    assert len(again) == 4
    statuses = {a["status"] for a in (await api.get("/api/assignments", params={"unit": "21787"})).json()["items"]}
    assert statuses == {"overdue"}


async def test_a_plan_that_cannot_be_understood_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    await api.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
    bad = quarterly_plan(THIS_YEAR + 1, "99/KH-UBND")
    bad["tasks"][0]["timeline"] = "khi nào rảnh"
    bad["tasks"][0]["lead"] = ["99999"]
    refused = await api.post("/api/plans", json=bad)
    assert refused.status_code == 422
    fields = {p["field"] for p in refused.json()["detail"]}
    assert fields == {"tasks[0].timeline", "tasks[0].lead[0]"}
    missing = await api.post("/api/plans", json={"number": "1", "issuer": "52", "period": "2026", "tasks": []})
    assert missing.status_code == 422
    assert {p["field"] for p in missing.json()["detail"]} == {"title", "tasks"}
    listed = (await api.get("/api/plans", params={"issuer": "52"})).json()["items"]
    assert listed == []  # nothing stored
