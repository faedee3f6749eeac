"""Who may act on notify's objects, with real credentials of other units: a unit's heads manage
its contacts and rules, its officers and its siblings' heads do not; a province admin sees and
re-drives the deliveries of its own province only."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from shared.access import Role
from shared.db import plain_url
from tests.integration.conftest import Identity, System, head, officer

pytestmark = pytest.mark.integration

CONTACT = {"name": "Văn phòng UBND xã", "email": "vanphong@vinhson.gialai.gov.vn", "channels": ["email"]}


async def paths(system: System, *codes: str) -> dict[str, str]:
    """Provinces 52 and 48 loaded; the paths of the units named."""
    loaded = await system.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52", "48"]})
    assert loaded.status_code == 200, loaded.text
    return {code: (await system.get(f"/api/units/{code}")).json()["path"] for code in codes}


async def test_a_commune_head_manages_its_contacts_and_neither_an_officer_nor_a_sibling_head_may(
    system: System,
) -> None:
    units = await paths(system, "21787", "21796")
    ours, sibling = head(units["21787"]), head(units["21796"])

    made = await system.as_(ours).post("/api/notifications/contacts", json={"unit": "21787", **CONTACT})
    assert made.status_code == 201, made.text
    contact = made.json()
    assert contact["unit_path"] == units["21787"]

    refused = await system.as_(officer(units["21787"])).post(
        "/api/notifications/contacts", json={"unit": "21787", **CONTACT}
    )
    assert refused.status_code == 403 and "manage" in refused.json()["message"]
    # the sibling's head names the unit by its path too: still not its unit
    for unit in ("21787", units["21787"]):
        other = await system.as_(sibling).post("/api/notifications/contacts", json={"unit": unit, **CONTACT})
        assert other.status_code == 403, other.text

    removed = await system.as_(sibling).delete(f"/api/notifications/contacts/{contact['id']}")
    assert removed.status_code == 404 and "21787" not in removed.json()["message"]  # not even seen
    listed = (
        await system.as_(officer(units["21787"])).get("/api/notifications/contacts", params={"unit": "21787"})
    ).json()
    assert [c["id"] for c in listed["items"]] == [contact["id"]]

    assert (await system.as_(ours).delete(f"/api/notifications/contacts/{contact['id']}")).status_code == 200
    assert (await system.get("/api/notifications/contacts", params={"unit": "21787"})).json()["count"] == 0


async def test_a_commune_head_sets_its_units_rules_but_not_its_siblings_or_its_provinces_plan_rules(
    system: System,
) -> None:
    units = await paths(system, "21787", "21796")
    ours, sibling, province = head(units["21787"]), head(units["21796"]), head("52")
    plan_id = str(uuid.uuid4())

    assert (await system.as_(ours).put("/api/notifications/rules/units/21787", json={"overdue": False})).is_success
    assert (
        await system.as_(sibling).put("/api/notifications/rules/units/21787", json={"overdue": True})
    ).status_code == 403
    assert (await system.as_(sibling).delete("/api/notifications/rules/units/21787")).status_code == 403
    assert (await system.as_(officer(units["21787"])).delete("/api/notifications/rules/units/21787")).status_code == 403

    # the province sets its plan's rules first: they are the province's, read by its communes
    assert (
        await system.as_(province).put(f"/api/notifications/rules/plans/{plan_id}", json={"escalate": False})
    ).is_success
    assert (
        await system.as_(ours).put(f"/api/notifications/rules/plans/{plan_id}", json={"escalate": True})
    ).status_code == 403
    read = await system.as_(officer(units["21787"])).get(
        "/api/notifications/rules", params={"unit": "21787", "plan": plan_id}
    )
    assert read.json()["plan"] == {"escalate": False} and read.json()["unit"] == {"overdue": False}
    assert (
        await system.as_(officer(units["21796"])).get("/api/notifications/rules", params={"unit": "21787"})
    ).status_code == 403
    assert (await system.as_(ours).delete(f"/api/notifications/rules/plans/{plan_id}")).status_code == 403
    assert (await system.as_(province).delete(f"/api/notifications/rules/plans/{plan_id}")).status_code == 200


async def failed_delivery(admin: asyncpg.Connection, code: str, path: str) -> str:
    """A notification of the unit (notify has then heard of the unit) with a delivery to its
    contact that failed for good — written straight to the database: a real channel takes
    minutes of retries to give up."""
    notification_id, contact_id, delivery_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await admin.execute(
        "INSERT INTO notify.notifications (id, dedup_key, unit_code, unit_path, kind, subject_id, title, body, link)"
        " VALUES ($1, $2, $3, $4, 'assigned', $1, 'Nhiệm vụ mới', '', '/')",
        notification_id,
        f"test:{notification_id}",
        code,
        path,
    )
    await admin.execute("INSERT INTO notify.units (code, path) VALUES ($1, $2) ON CONFLICT DO NOTHING", code, path)
    await admin.execute(
        "INSERT INTO notify.contacts (id, unit_code, unit_path, name, webhook_url, channels)"
        " VALUES ($1, $2, $3, 'Cầu nối', 'http://127.0.0.1:9/hook', '[\"webhook\"]')",
        contact_id,
        code,
        path,
    )
    await admin.execute(
        "INSERT INTO notify.deliveries (id, notification_id, contact_id, channel, idempotency_key, status, attempts,"
        " next_attempt_at, last_error) VALUES ($1, $2, $3, 'webhook', $4, 'failed', 5, now() + interval '1 day',"
        " 'connection refused')",
        delivery_id,
        notification_id,
        contact_id,
        f"test:{delivery_id}",
    )
    return str(delivery_id)


async def test_a_province_admin_redrives_only_its_provinces_failed_deliveries(system: System) -> None:
    units = await paths(system, "21787", "48")
    admin = await asyncpg.connect(plain_url(system.settings.database_url or ""))
    try:
        ours = await failed_delivery(admin, "21787", units["21787"])
        theirs = await failed_delivery(admin, "48", units["48"])
    finally:
        await admin.close()
    admin_52 = system.as_(Identity("52", (Role.admin,), name="Quản trị tỉnh Gia Lai"))

    listed: list[dict[str, Any]] = (await admin_52.get("/api/notifications/deliveries")).json()["items"]
    assert [d["id"] for d in listed] == [ours]
    assert (await admin_52.get(f"/api/notifications/deliveries/{theirs}")).status_code == 404
    assert (await admin_52.get("/api/notifications/deliveries", params={"unit": "48"})).status_code == 403

    refused = await admin_52.post("/api/notifications/deliveries/redrive", json={"ids": [theirs]})
    assert refused.status_code == 403 and "admin" in refused.json()["message"]
    assert (
        await system.as_(head("52")).post("/api/notifications/deliveries/redrive", json={"all": True})
    ).status_code == 403

    redriven = await admin_52.post("/api/notifications/deliveries/redrive", json={"all": True})
    assert redriven.status_code == 200 and redriven.json()["redriven"] == [ours], redriven.text
    still = (await system.get(f"/api/notifications/deliveries/{theirs}")).json()
    assert still["status"] == "failed"


async def test_a_plans_rules_set_by_a_commune_reach_only_that_commune(system: System) -> None:
    """A commune head may tune the province plan it implements for itself, never mute it for its
    siblings: a plan's rules reach only the subtree of the unit that set them."""
    from tests.integration.plans_data import QUARTERLY_PLAN
    from tests.integration.steps import notifications_for, q1_assignment

    units = await paths(system, "21787", "21796")
    plan = {**QUARTERLY_PLAN, "tasks": [{**QUARTERLY_PLAN["tasks"][0], "lead": ["21787", "21796"]}]}
    plan_id = (await system.post("/api/plans", json=plan)).json()["id"]
    muted = await system.as_(head(units["21787"])).put(
        f"/api/notifications/rules/plans/{plan_id}", json={"assigned": False}
    )
    assert muted.status_code == 200, muted.text
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200
    ours, theirs = await q1_assignment(system, "21787"), await q1_assignment(system, "21796")

    async def sibling_told() -> int:
        return await notifications_for(system, uuid.UUID(theirs["id"]))

    assert await system.eventually(sibling_told) == 1  # the sibling still hears of its new task
    await system.settled()
    assert await notifications_for(system, uuid.UUID(ours["id"])) == 0  # the commune muted its own
