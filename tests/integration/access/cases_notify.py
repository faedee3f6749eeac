"""The notify service's routes in the authorisation matrix. The inbox, contacts and rules are
read with `read` within the caller's subtree; marking a notification read needs `read` on its
unit; contacts and rules are set by heads (`manage`) of the unit, or of a unit above it (a plan's
rules by the unit that first set them); deliveries, which show addresses and errors, are the
admin's (`admin`), within its subtree. A unit code notify knows outside the caller's subtree is
refused (403) in lists, including the caller's own ancestors; another unit's notification or
delivery is as if absent (404) when read, refused (403) when re-driven."""

from __future__ import annotations

import uuid

import asyncpg

from shared.db import plain_url
from tests.integration.access.world import PROVINCE, UNIT, Case, World, allowed

UNIT_READERS = ("officer", "parent_head", "auditor", "admin", "readonly_token")
PROVINCE_READERS = ("parent_head", "auditor", "admin")
CONTACT = {"name": "Văn phòng xã", "email": "vanphong@vinhson.gialai.gov.vn", "channels": ["email"]}


async def _failed_delivery(world: World, notification_id: str) -> tuple[str, str]:
    """A contact of the unit and a delivery to it that failed for good (written straight to the
    database: making one fail through a real channel takes minutes of retries)."""
    system = world.system
    made = await system.post("/api/notifications/contacts", json={"unit": UNIT, **CONTACT})
    assert made.status_code == 201, made.text
    contact_id, delivery_id = made.json()["id"], uuid.uuid4()
    admin = await asyncpg.connect(plain_url(system.settings.database_url or ""))  # the superuser
    try:
        await admin.execute(
            "INSERT INTO notify.deliveries (id, notification_id, contact_id, channel, idempotency_key, status,"
            " attempts, next_attempt_at, last_error) VALUES ($1, $2, $3, 'email', $4, 'failed', 5, now(), 'SMTP 550')",
            delivery_id,
            uuid.UUID(notification_id),
            uuid.UUID(contact_id),
            f"matrix:{delivery_id}",
        )
    finally:
        await admin.close()
    return contact_id, str(delivery_id)


async def cases(world: World) -> list[Case]:
    system = world.system
    inbox = (await system.get("/api/notifications", params={"unit": UNIT})).json()["items"]
    assert inbox, "the world's assignment told the unit"
    notification_id = inbox[0]["id"]
    contact_id, delivery_id = await _failed_delivery(world, notification_id)
    plan_rules = "/api/notifications/rules/plans/{plan_id}"
    unit_rules = "/api/notifications/rules/units/{unit_code}"
    any_rules = "/api/notifications/rules/{scope}/{key}"
    return [
        Case(
            "GET",
            "/api/notifications",
            "/api/notifications",
            allowed(*UNIT_READERS),
            params={"unit": UNIT},
            note="the sibling: 403 (notify knows where the unit is)",
        ),
        Case(
            "GET",
            "/api/notifications",
            "/api/notifications",
            allowed(*PROVINCE_READERS),
            params={"unit": PROVINCE},
            note="a commune asking for its province: 403",
        ),
        Case(
            "POST",
            "/api/notifications/{notification_id}/read",
            f"/api/notifications/{notification_id}/read",
            allowed(*UNIT_READERS, otherwise=404),
            note="another unit's notification is as if absent",
        ),
        Case(
            "POST",
            "/api/notifications/contacts",
            "/api/notifications/contacts",
            allowed("parent_head"),
            json={"unit": UNIT, **CONTACT},
            note="heads of the unit or above it",
        ),
        Case(
            "GET",
            "/api/notifications/contacts",
            "/api/notifications/contacts",
            allowed(*UNIT_READERS),
            params={"unit": UNIT},
        ),
        Case(
            "DELETE",
            "/api/notifications/contacts/{contact_id}",
            f"/api/notifications/contacts/{contact_id}",
            allowed("parent_head"),
        ),
        Case(
            "GET",
            "/api/notifications/deliveries",
            "/api/notifications/deliveries",
            allowed("admin"),
            params={"status": "failed"},
            note="admin, deliveries of its subtree",
        ),
        Case(
            "GET",
            "/api/notifications/deliveries/{delivery_id}",
            f"/api/notifications/deliveries/{delivery_id}",
            allowed("admin"),
        ),
        Case(
            "POST",
            "/api/notifications/deliveries/redrive",
            "/api/notifications/deliveries/redrive",
            allowed("admin"),
            json={"ids": [delivery_id]},
        ),
        Case(
            "POST",
            "/api/notifications/deliveries/redrive",
            "/api/notifications/deliveries/redrive",
            allowed("admin"),
            json={"all": True},
            note="all: every failed delivery of the admin's subtree",
        ),
        Case(
            "GET",
            "/api/notifications/rules",
            "/api/notifications/rules",
            allowed(*UNIT_READERS),
            params={"unit": UNIT, "plan": world.plan_id},
        ),
        Case(
            "PUT",
            plan_rules,
            f"/api/notifications/rules/plans/{world.plan_id}",
            allowed("parent_head"),
            json={"escalate": True},
            note="the plan's rules then belong to the province",
        ),
        Case(
            "PUT", unit_rules, f"/api/notifications/rules/units/{UNIT}", allowed("parent_head"), json={"overdue": True}
        ),
        Case("DELETE", any_rules, f"/api/notifications/rules/units/{UNIT}", allowed("parent_head")),
        Case("DELETE", any_rules, f"/api/notifications/rules/plans/{world.plan_id}", allowed("parent_head")),
    ]
