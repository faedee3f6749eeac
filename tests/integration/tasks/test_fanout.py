"""A plan's fan-out: a plan that names every commune of a province, month by month, becomes one
assignment per task × commune × month, each announced once (assignment.created) and in the reports
read model once, also when its plan.issued comes again (redelivered, or replayed under another id)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import asyncpg
import nats
import pytest

from shared.db import plain_url
from shared.events import stream_name, subject
from shared.settings import Settings
from tests.integration.conftest import DatabaseRoles, System, running

pytestmark = pytest.mark.integration

COMMUNES, MONTHS, TASKS = 135, 12, 2  # Gia Lai (52): more assignments than a relay pass takes
MONTHLY_PLAN: dict[str, Any] = {
    "number": "18/KH-UBND",
    "title": "Kế hoạch tuyên truyền cải cách hành chính hằng tháng năm 2026",
    "issuer": "52",
    "period": "2026",
    "tasks": [
        {
            "ref": str(n),
            "title": f"Tin, bài tuyên truyền cải cách hành chính số {n}",
            "lead": ["children"],
            "timeline": "Hằng tháng",
            "products": [{"kind": "article", "target": 1}],
        }
        for n in (1, 2)
    ],
}


async def announced(system: System) -> Counter[str]:
    """How many assignment.created messages the assignment stream holds for each assignment id."""
    client = await nats.connect(system.settings.nats_url or "")
    try:
        js, prefix = client.jetstream(), system.settings.nats_prefix
        pull = await js.pull_subscribe(f"{prefix}.assignment.created.>", stream=stream_name(prefix, "assignment"))
        seen: Counter[str] = Counter()
        while True:
            try:
                batch = await pull.fetch(1000, timeout=1.0)
            except TimeoutError:
                return seen
            for message in batch:
                seen[json.loads(message.data)["payload"]["assignment_id"]] += 1
                await message.ack()
    finally:
        await client.close()


async def stored(system: System, plan_id: str) -> dict[str, Any]:
    """The plan's assignments in tasks (ids, and their task × unit × period) and in reports."""
    admin = await asyncpg.connect(plain_url(system.settings.database_url or ""))
    try:
        rows = await admin.fetch(
            "SELECT id, task_ref, unit_code, period FROM tasks.assignments WHERE plan_id = $1", uuid.UUID(plan_id)
        )
        in_reports = await admin.fetchval(
            "SELECT count(*) FROM reports.assignments WHERE plan_id = $1", uuid.UUID(plan_id)
        )
    finally:
        await admin.close()
    return {
        "ids": Counter(str(r["id"]) for r in rows),
        "keys": Counter((r["task_ref"], r["unit_code"], r["period"]) for r in rows),
        "in reports": in_reports,
    }


async def test_a_plan_for_every_commune_makes_each_assignment_once_and_announces_it_once_also_when_issued_again(
    settings: Settings, database_roles: DatabaseRoles
) -> None:
    async with running(settings, database_roles, "plans", "tasks", "reports") as system:
        await system.post("/api/units/load", json={"provinces": ["52"]})
        communes = [u["code"] for u in (await system.get("/api/units", params={"parent": "52"})).json()["items"]]
        assert len(communes) == COMMUNES
        plan_id = (await system.post("/api/plans", json=MONTHLY_PLAN)).json()["id"]
        assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200
        await system.settled(timeout=180)

        once = await stored(system, plan_id)
        expected = {
            (ref, code, f"2026-{month:02d}") for ref in ("1", "2") for code in communes for month in range(1, 13)
        }
        assert len(expected) == COMMUNES * MONTHS * TASKS
        assert set(once["keys"]) == expected and set(once["keys"].values()) == {1}
        assert set(once["ids"].values()) == {1}
        assert once["in reports"] == len(expected)
        assert await announced(system) == once["ids"]  # one assignment.created each, none else

        # plan.issued again: as stored (the same event: the inbox knows it), and as a new event of
        # the same version (a replay of the plans service: the version is known)
        client = await nats.connect(settings.nats_url or "")
        try:
            js, prefix = client.jetstream(), settings.nats_prefix
            stream = stream_name(prefix, "plan")
            message = await js.get_msg(stream, 1, subject=f"{prefix}.plan.issued.>", next=True)
            body = message.data or b""
            replay = json.loads(body) | {"id": str(uuid.uuid4())}
            for data in (body, json.dumps(replay).encode()):
                await js.publish(
                    subject(prefix, "plan.issued", "52"),
                    data,
                    stream=stream,
                    headers={"Nats-Msg-Id": str(uuid.uuid4())},
                )
        finally:
            await client.close()
        await system.settled(timeout=180)
        assert await stored(system, plan_id) == once
        assert await announced(system) == once["ids"]
