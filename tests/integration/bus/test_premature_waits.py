"""An event that needs one its owner has not published yet waits for it as long as
CCHC_PREMATURE_WAIT_SECONDS allows, not only CCHC_MAX_DELIVER deliveries: after an outage the
owner's outbox is published in a burst, in any order (found by tests/faults: a plan.amended
dead-lettered after NATS was cut for two minutes). Real NATS and PostgreSQL."""

from __future__ import annotations

import copy
import uuid

import nats
import pytest

from shared.events import stream_name
from shared.settings import Settings
from tests.integration.conftest import DatabaseRoles, running
from tests.integration.plans_data import ONE_COMMUNE_PLAN
from tests.integration.steps import dead_letters

pytestmark = pytest.mark.integration

AMENDED_TITLE = "Gửi tin, bài về cải cách hành chính trên trang thông tin điện tử của xã"


async def test_an_amendment_arriving_before_its_plan_waits_past_the_last_delivery(
    settings: Settings, database_roles: DatabaseRoles
) -> None:
    prefix = settings.nats_prefix
    async with running(settings, database_roles, "plans", max_deliver=2, premature_wait_seconds=600) as system:
        await system.post("/api/units/load", json={"provinces": ["52"]})
        plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
        assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200
        amended = copy.deepcopy(ONE_COMMUNE_PLAN)
        amended["tasks"][0]["title"] = AMENDED_TITLE
        assert (await system.post(f"/api/plans/{plan_id}/amend", json=amended)).status_code == 200
        await system.settled()

        client = await nats.connect(settings.nats_url)
        try:
            js = client.jetstream()
            plans = stream_name(prefix, "plan")
            issued = await js.get_last_msg(plans, f"{prefix}.plan.issued.52")
            await js.delete_msg(plans, issued.seq)  # tasks will see the amendment first
            await system.start("tasks")
            consumer = "tasks-plan-amended"  # it holds only the amendment: each delivery is one of it

            async def retried_past_max_deliver() -> bool:
                info = await js.consumer_info(plans, consumer)
                return info.delivered.consumer_seq > 2 and info.num_ack_pending == 1

            await system.eventually(retried_past_max_deliver, timeout=30)
            # the plan.issued comes at last (the owner's outbox, published late)
            await js.publish(
                issued.subject or "",
                issued.data or b"",
                stream=plans,
                headers={"Nats-Msg-Id": str(uuid.uuid4())},
            )
        finally:
            await client.close()

        async def amended_in_tasks() -> list[str] | None:
            items = (await system.get("/api/assignments", params={"unit": "21787"})).json()["items"]
            titles = sorted({a["task_title"] for a in items})
            return titles if titles == [AMENDED_TITLE] else None

        assert await system.eventually(amended_in_tasks, timeout=120) == [AMENDED_TITLE]
        assert await dead_letters(system) == []
