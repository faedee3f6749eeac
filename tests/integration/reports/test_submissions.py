"""Submission up the tree on real servers: a commune submits, the province returns it with a
reason, the commune resubmits a new version, the province accepts it (only while its figures are
those submitted) and the report is locked
(the tasks service refuses corrections) until the province reopens it; the notify service tells
the commune each time; the province sees every commune's status against staggered deadlines."""

from __future__ import annotations

from typing import Any

import pytest

from shared.deadlines import DueRules
from tests.integration.conftest import System
from tests.integration.plans_data import AREAS_PLAN

pytestmark = pytest.mark.integration

COMMUNE, NEIGHBOUR = "21787", "21583"
URL = f"/api/reports/{COMMUNE}/2026-Q1"


async def report(system: System, ref: str, status: str = "done") -> int:
    items = (await system.get("/api/assignments", params={"unit": COMMUNE, "period": "2026-Q1"})).json()["items"]
    assignment = next(i for i in items if i["task_ref"] == ref)
    sent = await system.post(
        f"/api/assignments/{assignment['id']}/progress",
        json={"period": "2026-Q1", "status": status, "outputs": {"broadcast": 2}, "reporter": {"unit": COMMUNE}},
    )
    return sent.status_code


async def notes(system: System, kind: str) -> list[dict[str, Any]]:
    return (await system.get("/api/notifications", params={"unit": COMMUNE, "kind": kind})).json()["items"]


async def test_a_report_goes_up_is_returned_resubmitted_accepted_locked_and_reopened(system: System) -> None:
    system.settings.due_rules = DueRules(earlier_by_level={"commune": 5})  # communes report 5 days earlier
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=AREAS_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    async def assigned() -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": COMMUNE, "period": "2026-Q1"})).json()
        return body.get("expected") == 2

    await system.eventually(assigned)
    assert await report(system, "1") == 201

    async def counted() -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": COMMUNE, "period": "2026-Q1"})).json()
        return body["reported"] == 1

    await system.eventually(counted)
    by = {"unit": COMMUNE, "name": "Nguyễn Văn An"}
    first = await system.post(f"{URL}/submit", json={"by": by, "number": "05/BC-UBND"})
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["totals"]["reported"] == 1
    assert first.json()["status_label"] == "Đã gửi, chờ tiếp nhận"

    again = await system.post(f"{URL}/submit", json={"by": by})
    assert again.status_code == 409 and "đang chờ" in again.json()["message"]
    forged = await system.post(f"{URL}/submit", json={"by": {"unit": NEIGHBOUR}})
    assert forged.status_code == 403
    province = {"unit": "52", "name": "Văn phòng UBND tỉnh"}
    assert (await system.post(f"{URL}/accept", json={"by": {"unit": NEIGHBOUR}})).status_code == 403
    no_reason = await system.post(f"{URL}/return", json={"by": province})
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["field"] == "reason"

    returned = await system.post(f"{URL}/return", json={"by": province, "reason": "Thiếu kết quả nhiệm vụ 2"})
    assert returned.status_code == 200 and returned.json()["status"] == "returned"
    told = await system.eventually(lambda: notes(system, "report_returned"))
    assert "Lý do: Thiếu kết quả nhiệm vụ 2" in told[0]["body"]

    assert await report(system, "2") == 201

    async def both() -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": COMMUNE, "period": "2026-Q1"})).json()
        return body["reported"] == 2

    await system.eventually(both)
    second = await system.post(f"{URL}/submit", json={"by": by, "number": "07/BC-UBND"})
    assert second.status_code == 201 and second.json()["version"] == 2
    assert second.json()["totals"]["reported"] == 2

    async def done(count: int) -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": COMMUNE, "period": "2026-Q1"})).json()
        return body["states"]["done_on_time"] == count

    # A correction after sending: the province cannot accept figures it has not seen.
    assert await report(system, "2", "in_progress") == 201
    await system.eventually(lambda: done(1))
    drifted = await system.post(f"{URL}/accept", json={"by": province})
    assert drifted.status_code == 409, drifted.text
    assert "đã thay đổi từ khi gửi báo cáo lần 2 (hoàn thành đúng hạn 2 → 1)" in drifted.json()["message"]
    assert await report(system, "2", "done") == 201  # back to what was sent
    await system.eventually(lambda: done(2))
    accepted = await system.post(f"{URL}/accept", json={"by": province})
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    await system.eventually(lambda: notes(system, "report_accepted"))
    assert (await system.post(f"{URL}/submit", json={"by": by})).status_code == 409  # locked

    async def locked() -> bool:  # the tasks service learns of it from report.accepted
        return await report(system, "1", "in_progress") == 409

    await system.eventually(locked)
    reopened = await system.post(f"{URL}/return", json={"by": province, "reason": "Mở lại để bổ sung số liệu"})
    assert reopened.status_code == 200

    async def unlocked() -> bool:
        return await report(system, "1", "done") == 201

    await system.eventually(unlocked)
    versions = (await system.get(f"{URL}/submissions")).json()
    assert [(v["version"], v["status"]) for v in versions["items"]] == [(2, "returned"), (1, "returned")]
    assert versions["items"][0]["reason"] == "Mở lại để bổ sung số liệu"

    # The province's view: every commune, with the commune deadline 5 days before its own.
    view = (await system.get("/api/reports/52/2026-Q1/children-submissions")).json()
    assert view["count"] == 135 and view["due"] == "2026-03-16"
    row = next(i for i in view["items"] if i["unit"] == COMMUNE)
    assert row["status"] == "returned" and row["version"] == 2 and row["due"] == "2026-03-10"
    assert row["late"] is False
    assert view["counts"] == {"not_submitted": 134, "returned": 1, "submitted": 0, "accepted": 0}
    assert [i["status"] for i in view["items"]][:134] == ["not_submitted"] * 134

    assert (await system.post("/api/reports/21787/2026-03/submit", json={"by": by})).status_code == 422
    assert (await system.post("/api/reports/99999/2026-Q1/submit", json={"by": {"unit": "99999"}})).status_code == 404
