"""Submission up the tree on real servers, with real credentials: the commune's head submits, the
province's head returns it with a reason, the commune resubmits a new version, the province
accepts it (only while its figures are those submitted) and the report is locked (the tasks
service refuses corrections) until the province reopens it; the notify service tells the
commune each time; the province sees every commune's status against staggered deadlines. No
one else may: not the commune's officer, nor the commune for its parent, nor the province for
the commune, nor a neighbouring commune, which cannot even read the commune's submissions."""

from __future__ import annotations

from typing import Any

import pytest

from shared.deadlines import DueRules
from tests.integration.conftest import Identity, System, head, officer
from tests.integration.plans_data import AREAS_PLAN

pytestmark = pytest.mark.integration

COMMUNE, NEIGHBOUR = "21787", "21583"
URL = f"/api/reports/{COMMUNE}/2026-Q1"


async def path_of(system: System, code: str) -> str:
    return str((await system.get(f"/api/units/{code}")).json()["path"])


async def report(system: System, who: Identity, ref: str, status: str = "done") -> int:
    items = (await system.get("/api/assignments", params={"unit": COMMUNE, "period": "2026-Q1"})).json()["items"]
    assignment = next(i for i in items if i["task_ref"] == ref)
    sent = await system.as_(who).post(
        f"/api/assignments/{assignment['id']}/progress",
        json={"period": "2026-Q1", "status": status, "outputs": {"broadcast": 2}},
    )
    return sent.status_code


async def notes(system: System, kind: str) -> list[dict[str, Any]]:
    return (await system.get("/api/notifications", params={"unit": COMMUNE, "kind": kind})).json()["items"]


async def test_a_report_goes_up_is_returned_resubmitted_accepted_locked_and_reopened(system: System) -> None:
    # communes report 5 days earlier (the running service's settings: each service may have its own copy)
    system.services["reports"].settings.due_rules = DueRules(earlier_by_level={"commune": 5})
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=AREAS_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200
    commune_path, neighbour_path = await path_of(system, COMMUNE), await path_of(system, NEIGHBOUR)
    commune_head, commune_officer = head(commune_path), officer(commune_path)
    province_head, neighbour_head = head("52"), head(neighbour_path)
    commune, province = system.as_(commune_head), system.as_(province_head)

    async def assigned() -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": COMMUNE, "period": "2026-Q1"})).json()
        return body.get("expected") == 2

    await system.eventually(assigned)
    assert await report(system, commune_officer, "1") == 201

    async def counted() -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": COMMUNE, "period": "2026-Q1"})).json()
        return body["reported"] == 1

    await system.eventually(counted)
    # The commune reads its own figures, not its province's nor its neighbour's.
    as_officer = system.as_(commune_officer)
    mine = await as_officer.get("/api/reports/rollup", params={"unit": COMMUNE, "period": "2026-Q1"})
    assert mine.status_code == 200 and mine.json()["reported"] == 1
    for other in ("52", NEIGHBOUR):
        refused = await as_officer.get("/api/reports/rollup", params={"unit": other, "period": "2026-Q1"})
        assert refused.status_code == 403 and "(read)" in refused.json()["message"]
    # Only the commune itself submits: not its officer, not its province for it, not a neighbour.
    assert (await system.as_(commune_officer).post(f"{URL}/submit", json={})).status_code == 403
    on_behalf = await province.post(f"{URL}/submit", json={})
    assert on_behalf.status_code == 403 and "tự gửi báo cáo" in on_behalf.json()["message"]
    assert (await system.as_(neighbour_head).post(f"{URL}/submit", json={})).status_code == 403
    assert (await system.as_(None).post(f"{URL}/submit", json={})).status_code == 401
    # A `by` naming another unit, or another person, than the credential is refused.
    forged = await commune.post(f"{URL}/submit", json={"by": {"unit": NEIGHBOUR}})
    assert forged.status_code == 403
    impostor = await commune.post(f"{URL}/submit", json={"by": {"unit": COMMUNE, "name": "Người khác"}})
    assert impostor.status_code == 403

    first = await commune.post(f"{URL}/submit", json={"by": {"unit": COMMUNE}, "number": "05/BC-UBND"})
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["totals"]["reported"] == 1
    assert first.json()["status_label"] == "Đã gửi, chờ tiếp nhận"
    assert first.json()["submitted_by"] == commune_head.name  # who is logged in, not what a body says
    assert (
        first.json()["submitted_by_subject"].startswith("user:")
        and commune_path in first.json()["submitted_by_subject"]
    )

    again = await commune.post(f"{URL}/submit", json={})
    assert again.status_code == 409 and "đang chờ" in again.json()["message"]

    # Only the direct parent's head decides: not the commune's officer, nor its head, nor a neighbour.
    assert (await system.as_(commune_officer).post(f"{URL}/accept", json={})).status_code == 403
    own = await commune.post(f"{URL}/accept", json={})
    assert own.status_code == 403 and "cấp trên trực tiếp" in own.json()["message"]
    assert (await system.as_(neighbour_head).post(f"{URL}/return", json={"reason": "x"})).status_code == 403
    assert (await system.as_(officer("52")).post(f"{URL}/accept", json={})).status_code == 403  # no review right
    assert (await province.post(f"{URL}/accept", json={"by": {"unit": NEIGHBOUR}})).status_code == 403
    no_reason = await province.post(f"{URL}/return", json={"by": {"unit": "52"}})
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["field"] == "reason"

    returned = await province.post(f"{URL}/return", json={"reason": "Thiếu kết quả nhiệm vụ 2"})
    assert returned.status_code == 200 and returned.json()["status"] == "returned"
    assert returned.json()["decided_by"] == province_head.name
    told = await system.eventually(lambda: notes(system, "report_returned"))
    assert "Lý do: Thiếu kết quả nhiệm vụ 2" in told[0]["body"]

    assert await report(system, commune_officer, "2") == 201

    async def both() -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": COMMUNE, "period": "2026-Q1"})).json()
        return body["reported"] == 2

    await system.eventually(both)
    second = await commune.post(f"{URL}/submit", json={"number": "07/BC-UBND"})
    assert second.status_code == 201 and second.json()["version"] == 2
    assert second.json()["totals"]["reported"] == 2

    async def done(count: int) -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": COMMUNE, "period": "2026-Q1"})).json()
        return body["states"]["done_on_time"] == count

    # A correction after sending: the province cannot accept figures it has not seen.
    assert await report(system, commune_officer, "2", "in_progress") == 201
    await system.eventually(lambda: done(1))
    drifted = await province.post(f"{URL}/accept", json={})
    assert drifted.status_code == 409, drifted.text
    assert "đã thay đổi từ khi gửi báo cáo lần 2 (hoàn thành đúng hạn 2 → 1)" in drifted.json()["message"]
    assert await report(system, commune_officer, "2", "done") == 201  # back to what was sent
    await system.eventually(lambda: done(2))
    accepted = await province.post(f"{URL}/accept")  # no body at all
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    await system.eventually(lambda: notes(system, "report_accepted"))
    assert (await commune.post(f"{URL}/submit", json={})).status_code == 409  # locked

    async def locked() -> bool:  # the tasks service learns of it from report.accepted
        return await report(system, commune_officer, "1", "in_progress") == 409

    await system.eventually(locked)
    reopened = await province.post(f"{URL}/return", json={"by": {"unit": "52"}, "reason": "Mở lại để bổ sung số liệu"})
    assert reopened.status_code == 200

    async def unlocked() -> bool:
        return await report(system, commune_officer, "1", "done") == 201

    await system.eventually(unlocked)
    # The commune reads the decisions on its reports; a neighbouring commune cannot.
    versions = (await system.as_(commune_officer).get(f"{URL}/submissions")).json()
    assert [(v["version"], v["status"]) for v in versions["items"]] == [(2, "returned"), (1, "returned")]
    assert versions["items"][0]["reason"] == "Mở lại để bổ sung số liệu"
    assert versions["items"][0]["decided_by"] == province_head.name
    assert (await system.as_(officer(neighbour_path)).get(f"{URL}/submissions")).status_code == 403
    assert (await system.as_(neighbour_head).get(f"{URL}.xlsx")).status_code == 403

    # The province's view: every commune, with the commune deadline 5 days before its own.
    view = (await province.get("/api/reports/52/2026-Q1/children-submissions")).json()
    assert view["count"] == 135 and view["due"] == "2026-03-16"
    row = next(i for i in view["items"] if i["unit"] == COMMUNE)
    assert row["status"] == "returned" and row["version"] == 2 and row["due"] == "2026-03-10"
    assert row["late"] is False
    assert view["counts"] == {"not_submitted": 134, "returned": 1, "reopened": 0, "submitted": 0, "accepted": 0}
    assert [i["status"] for i in view["items"]][:134] == ["not_submitted"] * 134
    # … which a commune cannot read about its parent
    assert (await commune.get("/api/reports/52/2026-Q1/children-submissions")).status_code == 403

    assert (await commune.post("/api/reports/21787/2026-03/submit", json={})).status_code == 422
    assert (await system.post("/api/reports/99999/2026-Q1/submit", json={})).status_code == 404
