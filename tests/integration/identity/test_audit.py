"""The audit trail, end to end on real NATS and PostgreSQL: a write's audit entry commits with it
and reaches the reports service; events carry the actor of the write that caused them (also
those a handler causes further down the chain); secrets are blanked; only heads, auditors and
admins of the acting unit or above may read it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.access import Role
from shared.events import Envelope, stream_name
from tests.integration.conftest import Identity, System, head, officer
from tests.integration.plans_data import ONE_COMMUNE_PLAN
from tests.integration.steps import q1_assignment

pytestmark = pytest.mark.integration

UNIT_PATH = "52.21787"


async def trail(system: System, who: Identity, **params: str) -> Any:
    return await system.as_(who).get("/api/reports/audit", params=params)


async def test_a_write_is_audited_with_its_actor_and_its_events_carry_the_actor(system: System) -> None:
    await system.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
    province_head = head("52")
    plan_id = (await system.as_(province_head).post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
    assert (await system.as_(province_head).post(f"/api/plans/{plan_id}/issue")).status_code == 200
    assignment = await q1_assignment(system, "21787")
    reporter = Identity(UNIT_PATH, (Role.officer,), name="Trần Thị Lan", subject="user:lan")
    reported = await system.as_(reporter).post(
        f"/api/assignments/{assignment['id']}/progress",
        json={"period": "2026-Q1", "status": "done", "outputs": {"article": 1}},
        headers={"X-Forwarded-For": "10.1.2.3"},
    )
    assert reported.status_code == 201, reported.text
    await system.settled()

    async def audited() -> list[dict[str, Any]]:
        items = (await trail(system, province_head)).json()["items"]
        return [i for i in items if i["route"] == "/api/assignments/{assignment_id}/progress"]

    entry = (await system.eventually(audited))[0]
    assert entry["actor"] == {"subject": "user:lan", "unit": UNIT_PATH, "name": "Trần Thị Lan"}
    assert entry["service"] == "tasks" and entry["method"] == "POST"
    assert entry["params"] == {"assignment_id": assignment["id"]}
    assert entry["body"]["status"] == "done" and entry["address"] == "10.1.2.3"

    # the plan's own audit entry, and its events down the chain carry the province head
    issued = [i for i in (await trail(system, province_head)).json()["items"] if i["route"].endswith("/issue")]
    assert issued and issued[0]["actor"]["unit"] == "52"
    assert system.nats is not None  # settled() connected it
    js = system.nats.jetstream()
    prefix = system.settings.nats_prefix
    plan_msg = await js.get_last_msg(stream_name(prefix, "plan"), f"{prefix}.plan.issued.52")
    assert Envelope.model_validate(json.loads(plan_msg.data)).actor.subject == province_head.token_subject()  # type: ignore[union-attr]
    created = await js.get_last_msg(stream_name(prefix, "assignment"), f"{prefix}.assignment.created.{UNIT_PATH}")
    caused = Envelope.model_validate(json.loads(created.data))
    assert caused.producer == "tasks" and caused.actor is not None
    assert caused.actor.subject == province_head.token_subject()  # handled plan.issued → caused by the head
    progress = await js.get_last_msg(stream_name(prefix, "progress"), f"{prefix}.progress.reported.{UNIT_PATH}")
    assert Envelope.model_validate(json.loads(progress.data)).actor.subject == "user:lan"  # type: ignore[union-attr]


async def test_secrets_are_blanked_and_only_heads_auditors_admins_above_read_the_trail(system: System) -> None:
    await system.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
    admin = Identity("52", (Role.admin,), name="Quản trị tỉnh", subject="user:qt")
    made = await system.as_(admin).post(
        "/api/users",
        json={"username": "canbo.a", "unit": "21787", "roles": ["officer"], "password": "mat-khau-rat-dai-1"},
    )
    assert made.status_code == 201, made.text

    async def audited() -> list[dict[str, Any]]:
        items = (await trail(system, Identity("52", (Role.auditor,)))).json()["items"]
        return [i for i in items if i["route"] == "/api/users"]

    entry = (await system.eventually(audited))[0]
    assert entry["body"]["password"] == "***" and entry["body"]["username"] == "canbo.a"
    assert "mat-khau-rat-dai-1" not in json.dumps(entry)

    # a change keeps what it replaced
    changed = await system.as_(admin).patch(  # the media type's case does not hide the body
        f"/api/users/{made.json()['id']}",
        content=b'{"roles": ["head"]}',
        headers={"Content-Type": "Application/JSON"},
    )
    assert changed.status_code == 200, changed.text

    async def change_audited() -> list[dict[str, Any]]:
        items = (await trail(system, Identity("52", (Role.auditor,)))).json()["items"]
        return [i for i in items if i["route"] == "/api/users/{user_id}"]

    change = (await system.eventually(change_audited))[0]
    assert change["before"]["roles"] == ["officer"] and change["body"] == {"roles": ["head"]}
    assert change["params"] == {"user_id": made.json()["id"]}

    refused = await trail(system, officer(UNIT_PATH))
    assert refused.status_code == 403 and "nhật ký" in refused.json()["message"]
    # a commune head sees its own subtree's writes only: not the province admin's
    assert (await trail(system, head(UNIT_PATH))).json()["items"] == []
    upwards = await trail(system, head(UNIT_PATH), unit="52")
    assert upwards.status_code == 403
