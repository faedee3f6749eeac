"""Who may read and write which plan, with real credentials of the units: a commune head drafts
and issues only its commune's plans, a province head the province's; a commune reads the
province plan it implements once issued, never a sibling commune's own plan; the directory is
read by everyone and changed only by the heads and admins of the unit."""

from __future__ import annotations

from typing import Any

import pytest

from shared.access import Role
from tests.integration.conftest import Identity, System, head, officer
from tests.integration.plans_data import QUARTERLY_PLAN

pytestmark = pytest.mark.integration

PROVINCE, COMMUNE, SIBLING = "52", "21787", "21796"  # Gia Lai; Xã Vĩnh Sơn and a neighbour


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def province_draft(system: System) -> tuple[str, str, str]:
    """Province 52 loaded and its draft plan for both communes; (plan id, commune path, sibling path)."""
    await ok(await system.post("/api/units/load", json={"provinces": [PROVINCE]}))
    commune = (await ok(await system.get(f"/api/units/{COMMUNE}")))["path"]
    sibling = (await ok(await system.get(f"/api/units/{SIBLING}")))["path"]
    plan = {**QUARTERLY_PLAN, "tasks": [{**QUARTERLY_PLAN["tasks"][0], "lead": [COMMUNE, SIBLING]}]}
    return (await ok(await system.post("/api/plans", json=plan), 201))["id"], commune, sibling


async def test_a_commune_head_cannot_draft_or_issue_the_province_plan_but_the_province_head_can(
    system: System,
) -> None:
    plan_id, commune, _ = await province_draft(system)
    commune_head, province_head = system.as_(head(commune)), system.as_(head(PROVINCE))

    assert (await commune_head.get(f"/api/plans/{plan_id}")).status_code == 404  # a draft above: not published
    hidden = await commune_head.post(f"/api/plans/{plan_id}/issue")  # what it cannot read: as if absent
    assert hidden.status_code == 404, hidden.text
    other = {**QUARTERLY_PLAN, "number": "13/KH-UBND"}
    assert (await commune_head.post("/api/plans", json=other)).status_code == 403  # issuer 52: not its unit
    assert (await system.as_(officer(PROVINCE)).post(f"/api/plans/{plan_id}/issue")).status_code == 403

    issued = await ok(await province_head.post(f"/api/plans/{plan_id}/issue"))
    assert issued["status"] == "issued"
    refused = await commune_head.post(f"/api/plans/{plan_id}/close")  # issued: read, but not its own
    assert refused.status_code == 403 and "plan" in refused.json()["message"], refused.text
    assert (await commune_head.post(f"/api/plans/{plan_id}/amend", json=QUARTERLY_PLAN)).status_code == 403


async def test_a_commune_reads_the_province_plan_it_implements_and_drafts_its_own_from_it(system: System) -> None:
    plan_id, commune, sibling = await province_draft(system)
    await ok(await system.post(f"/api/plans/{plan_id}/issue"))
    commune_officer, commune_head = system.as_(officer(commune)), system.as_(head(commune))

    seen = await ok(await commune_officer.get(f"/api/plans/{plan_id}"))
    assert seen["issuer"] == PROVINCE and seen["status"] == "issued"
    listed = await ok(await commune_officer.get("/api/plans", params={"issuer": PROVINCE}))
    assert [p["id"] for p in listed["items"]] == [plan_id]
    assert plan_id in [p["id"] for p in (await ok(await commune_officer.get("/api/plans")))["items"]]
    assert (await commune_officer.get("/api/plans", params={"within": PROVINCE})).status_code == 403

    own = await ok(await commune_head.post(f"/api/plans/{plan_id}/children", json={"unit": COMMUNE}), 201)
    assert own["issuer"] == COMMUNE and own["parent_plan"] == plan_id
    # the commune head drafts only its own: not the sibling's implementing plan
    refused = await commune_head.post(f"/api/plans/{plan_id}/children", json={"unit": SIBLING})
    assert refused.status_code == 403, refused.text
    assert (await ok(await commune_head.post(f"/api/plans/{own['id']}/issue")))["status"] == "issued"

    tree = await ok(await system.as_(head(PROVINCE)).get(f"/api/plans/{plan_id}/tree"))
    assert [c["id"] for c in tree["children"]] == [own["id"]]
    assert [d["unit"] for d in tree["not_issued"]] == [SIBLING]


async def test_a_sibling_commune_cannot_read_another_communes_own_plan(system: System) -> None:
    plan_id, commune, sibling = await province_draft(system)
    await ok(await system.post(f"/api/plans/{plan_id}/issue"))
    commune_head = system.as_(head(commune))
    own = await ok(await commune_head.post(f"/api/plans/{plan_id}/children", json={"unit": COMMUNE}), 201)
    await ok(await commune_head.post(f"/api/plans/{own['id']}/issue"))
    neighbour = system.as_(head(sibling))
    auditor = system.as_(Identity(PROVINCE, (Role.auditor,), name="thanh tra tỉnh"))

    for path in (f"/api/plans/{own['id']}", f"/api/plans/{own['id']}/versions", f"/api/plans/{own['id']}/tree"):
        absent = await neighbour.get(path)
        assert absent.status_code == 404, (path, absent.text)
        assert (await auditor.get(path)).status_code == 200  # the province's auditor reads its communes'
    assert own["id"] not in [p["id"] for p in (await ok(await neighbour.get("/api/plans")))["items"]]
    assert (await neighbour.get("/api/plans", params={"issuer": COMMUNE})).status_code == 403
    assert (await neighbour.get("/api/plans", params={"within": COMMUNE})).status_code == 403
    assert (await neighbour.post(f"/api/plans/{own['id']}/close")).status_code == 404  # not even seen

    # the province plan's tree, as the sibling reads it: neither the commune's plan nor its duty
    tree = await ok(await neighbour.get(f"/api/plans/{plan_id}/tree"))
    assert tree["children"] == [] and [d["unit"] for d in tree["not_issued"]] == [SIBLING]


async def test_the_directory_is_read_by_everyone_and_changed_by_the_units_heads_and_admins(system: System) -> None:
    _, commune, sibling = await province_draft(system)
    commune_officer = system.as_(officer(commune))
    province_admin = system.as_(Identity(PROVINCE, (Role.admin,), name="quản trị tỉnh"))

    assert (await ok(await commune_officer.get(f"/api/units/{SIBLING}")))["path"] == sibling
    assert (await system.request("GET", "/api/units", as_=None)).status_code == 401
    body = {"name": "Tổ công nghệ số cộng đồng"}
    assert (await commune_officer.post(f"/api/units/{COMMUNE}/bodies", json=body)).status_code == 403
    assert (await system.as_(head(sibling)).post(f"/api/units/{COMMUNE}/bodies", json=body)).status_code == 403
    await ok(await system.as_(head(commune)).post(f"/api/units/{COMMUNE}/bodies", json=body), 201)

    assert (await system.as_(head(commune)).patch(f"/api/units/{COMMUNE}", json={"name": "Xã Mới"})).status_code == 403
    another = await province_admin.post("/api/units/load", json={"provinces": ["48"]})
    assert another.status_code == 403, another.text  # a province admin loads only its own province
    await ok(await province_admin.post("/api/units/load", json={"provinces": [PROVINCE]}))
