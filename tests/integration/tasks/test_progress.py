"""Progress reports with real products, corrections with history, refusals by field and by
credential, and the views a unit and its supervisor use (subtree list with filters, "my work"),
each confined to the caller's subtree."""

from __future__ import annotations

import pytest

from shared.access import Role
from tests.integration.conftest import Identity, System, head, officer
from tests.integration.plans_data import QUARTERLY_PLAN
from tests.integration.steps import q1_assignment

pytestmark = pytest.mark.integration


async def path_of(system: System, code: str) -> str:
    return str((await system.get(f"/api/units/{code}")).json()["path"])


async def test_a_correction_replaces_the_numbers_and_keeps_the_history(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=QUARTERLY_PLAN)).json()["id"]
    await system.post(f"/api/plans/{plan_id}/issue")
    assignment = await q1_assignment(system, "21787")
    url = f"/api/assignments/{assignment['id']}/progress"
    lan = Identity(await path_of(system, "21787"), (Role.officer,), name="Trần Thị Lan", subject="user:lan")
    first = await system.as_(lan).post(
        url,
        json={
            "period": "2026-Q1",
            "status": "in_progress",
            "outputs": {"article": 1, "conference": 1, "participants": 80},
            "evidence": [{"kind": "link", "url": "https://vinhson.gialai.gov.vn/tin-tuc/cchc-1"}],
            "reporter": {"unit": "21787", "name": "Trần Thị Lan"},
        },
    )
    assert first.status_code == 201, first.text
    second = await system.post(
        url,
        json={
            "period": "2026-Q1",
            "status": "done",
            "outputs": {"article": 3, "conference": 1, "participants": 95},
            "evidence": [{"kind": "document", "number": "12/BC-UBND", "title": "Báo cáo quý I"}],
            "note": "Số liệu điều chỉnh sau khi rà soát",
        },
    )
    assert second.status_code == 201 and second.json()["status"] == "done_on_time"

    detail = (await system.as_(lan).get(f"/api/assignments/{assignment['id']}")).json()
    assert [h["status"] for h in detail["history"]] == ["in_progress", "done"]
    # who reported is the credential (the body's `reporter.unit` only agreed with it)
    assert detail["history"][0]["reporter"] == {"subject": "user:lan", "unit": lan.unit_path, "name": "Trần Thị Lan"}
    assert detail["history"][1]["reporter"]["name"] == "kiểm thử"
    assert detail["history"][1]["evidence"] == [{"kind": "document", "number": "12/BC-UBND", "title": "Báo cáo quý I"}]

    async def corrected() -> dict | None:
        body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026-Q1"})).json()
        return body if body.get("outputs", {}).get("article") == 3 else None

    body = await system.eventually(corrected)
    assert body["outputs"] == {"article": 3, "conference": 1, "participants": 95} and body["reported"] == 1


async def test_reports_that_cannot_be_right_are_refused_by_field_and_store_nothing(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=QUARTERLY_PLAN)).json()["id"]
    await system.post(f"/api/plans/{plan_id}/issue")
    assignment = await q1_assignment(system, "21787")
    url = f"/api/assignments/{assignment['id']}/progress"
    cases = [
        ({"status": "cannot_do"}, 422, "reason"),
        ({"outputs": {"bài viết": 1}}, 422, "outputs.bài viết"),
        ({"outputs": {"article": -2}}, 422, "outputs.article"),
        ({"evidence": [{"kind": "link", "url": "ftp://x"}]}, 422, "evidence[0].url"),
        ({"evidence": [{"kind": "document"}]}, 422, "evidence[0]"),
        ({"period": "2026-Q2"}, 422, "period"),
    ]
    for change, status, field in cases:
        refused = await system.post(url, json={"period": "2026-Q1", "status": "done", **change})
        assert refused.status_code == status, (change, refused.text)
        assert any(p["field"].startswith(field) for p in refused.json()["detail"]), (change, refused.json())
    # what the request's shape gets wrong is said in Vietnamese too, next to its field
    shape = await system.post(url, json={"status": "xong", "outputs": {"article": 10**12}})
    said = {p["field"]: p["msg"] for p in shape.json()["detail"]}
    assert said["period"] == "bắt buộc phải có", said
    assert said["status"].startswith("phải là một trong: 'not_started'"), said
    assert said["outputs.article"].startswith("phải nhỏ hơn hoặc bằng"), said
    assert "Input should" not in shape.text and "Field required" not in shape.text

    # Who reports is the credential. Another commune's officer does not see the assignment, even
    # naming this commune as the reporter; this commune's officer cannot report as another unit;
    # the province's auditor reads but does not report.
    done = {"period": "2026-Q1", "status": "done"}
    sibling = system.as_(officer(await path_of(system, "21583")))
    assert (await sibling.post(url, json=done)).status_code == 404
    posing = await sibling.post(url, json={**done, "reporter": {"unit": "21787"}})
    assert posing.status_code == 404, posing.text
    assert (await sibling.get(f"/api/assignments/{assignment['id']}")).status_code == 404
    own = system.as_(officer(await path_of(system, "21787")))
    other = await own.post(url, json={**done, "reporter": {"unit": "21583"}})
    assert other.status_code == 403 and "không báo cáo thay" in other.json()["message"], other.text
    auditor = await system.as_(Identity("52", (Role.auditor,))).post(url, json=done)
    assert auditor.status_code == 403 and "(report)" in auditor.json()["message"], auditor.text
    assert (await system.post(url, as_=None, json=done)).status_code == 401
    assert (await system.get(f"/api/assignments/{assignment['id']}")).json()["history"] == []
    accepted = await system.post(
        url, json={"period": "2026-Q1", "status": "cannot_do", "reason": "Đài truyền thanh hỏng"}
    )
    assert accepted.status_code == 201


async def test_a_supervisor_lists_the_subtree_by_status_and_a_unit_sees_its_work(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=QUARTERLY_PLAN)).json()["id"]
    await system.post(f"/api/plans/{plan_id}/issue")
    done = await q1_assignment(system, "21787")
    await system.post(f"/api/assignments/{done['id']}/progress", json={"period": "2026-Q1", "status": "done"})

    async def in_progress() -> list | None:
        items = (
            await system.get(
                "/api/assignments", params={"within": "52", "status": "in_progress", "period": "2026-Q1", "limit": 500}
            )
        ).json()["items"]
        return items if len(items) == 134 else None

    await system.eventually(in_progress)
    finished = (await system.get("/api/assignments", params={"within": "52", "status": "done_on_time"})).json()
    assert [i["unit"] for i in finished["items"]] == ["21787"]
    assert (await system.get("/api/assignments")).status_code == 422

    work = (await system.get("/api/assignments/work", params={"unit": "21583", "days": 60})).json()
    assert work["overdue"] == [] and [a["period"] for a in work["due_next"]] == ["2026-Q1"]
    assert work["counts"] == {"done_on_time": 0, "done_late": 0, "in_progress": 1, "overdue": 0, "not_due": 3}

    # each sees its own subtree: the province head all of it, a commune only itself — asking for
    # the province and a sibling are refused
    province = system.as_(head("52"))
    assert (
        len(
            (await province.get("/api/assignments", params={"within": "52", "period": "2026-Q1", "limit": 500})).json()[
                "items"
            ]
        )
        == 135
    )
    commune = system.as_(officer(await path_of(system, "21787")))
    refused = await commune.get("/api/assignments", params={"within": "52"})
    assert refused.status_code == 403 and "(read)" in refused.json()["message"], refused.text
    mine = (await commune.get("/api/assignments", params={"unit": "21787"})).json()["items"]
    assert {i["unit"] for i in mine} == {"21787"} and len(mine) == 4
    sibling_list = await commune.get("/api/assignments", params={"unit": "21583"})
    assert sibling_list.status_code == 403 and "21583" in sibling_list.json()["message"]
    assert (await commune.get("/api/assignments/work", params={"unit": "21583", "days": 60})).status_code == 403
    nobody = await commune.get("/api/assignments", params={"unit": "99999"})  # no such unit: nothing to hide
    assert nobody.status_code == 200 and nobody.json()["items"] == []
    assert (await commune.get("/api/assignments/work", params={"unit": "52"})).status_code == 403


async def test_an_assignment_says_whether_the_caller_may_report_on_it_and_why_not(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=QUARTERLY_PLAN)).json()["id"]
    await system.post(f"/api/plans/{plan_id}/issue")
    assignment = await q1_assignment(system, "21787")
    url = f"/api/assignments/{assignment['id']}"
    commune = await path_of(system, "21787")

    mine = (await system.as_(officer(commune)).get(url)).json()
    assert (mine["may_report"], mine["report_refusal"]) == (True, "")
    auditor = (await system.as_(Identity(commune, (Role.auditor,), name="thanh tra")).get(url)).json()
    assert auditor["may_report"] is False and "Cần quyền" in auditor["report_refusal"]

    assert (await system.post(f"/api/plans/{plan_id}/close")).status_code == 200

    async def closed() -> dict | None:  # the tasks service learns of it from the plan's event
        body = (await system.as_(officer(commune)).get(url)).json()
        return body if not body["may_report"] else None

    assert "đã kết thúc" in (await system.eventually(closed))["report_refusal"]
