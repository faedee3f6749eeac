"""Event size and stream limits on a real nats-server and PostgreSQL: every stream has its limits
(bytes, age, message size, what happens when full); a write whose event is over its family's
limit is refused at the API with 413 naming the body, with nothing stored and nothing left in the
outbox for the relay to fail on; a message over the limit published straight to JetStream is
refused by the server, not stored."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js.api import DiscardPolicy
from nats.js.errors import APIError

from shared import outbox
from shared.db import system_scope
from shared.events import DEAD_LETTER, FAMILIES, stream_name
from shared.outbox import EventLimits
from shared.settings import Settings
from tests.integration.conftest import OPERATOR, DatabaseRoles, System, running
from tests.integration.hostile.conftest import outbox_rows
from tests.integration.plans_data import ONE_COMMUNE_PLAN
from tests.integration.steps import closed_plans

pytestmark = pytest.mark.integration

DAY = 24 * 3600


async def test_every_stream_is_bounded_in_bytes_age_and_message_size(system: System) -> None:
    settings = system.settings
    client = await nats.connect(settings.nats_url)
    try:
        js = client.jetstream()
        for family in FAMILIES:
            config = (await js.stream_info(stream_name(settings.nats_prefix, family))).config
            assert config.max_bytes == settings.stream_max_bytes
            assert config.max_age == pytest.approx(settings.stream_max_age_days * DAY)
            limit = settings.event_max_bytes.get(family, settings.event_default_max_bytes)
            assert config.max_msg_size is not None and limit < config.max_msg_size <= limit + 64 * 1024
            # a full family stream keeps its history; the audit trail lives in the reports service
            assert config.discard == (DiscardPolicy.OLD if family == "audit" else DiscardPolicy.NEW)
        dead = (await js.stream_info(stream_name(settings.nats_prefix, DEAD_LETTER))).config
        assert dead.max_bytes == settings.dead_letter_max_bytes
        assert dead.max_age == pytest.approx(settings.dead_letter_max_age_days * DAY)
        assert dead.discard == DiscardPolicy.OLD
        assert dead.max_msg_size is not None and dead.max_msg_size > max(settings.event_max_bytes.values())
    finally:
        await client.close()


async def test_a_message_over_its_streams_size_is_refused_by_the_server(system: System) -> None:
    """What a forger (or a buggy producer) publishes past the services is bounded by the server."""
    settings = system.settings
    client = await nats.connect(settings.nats_url)
    try:
        js = client.jetstream()
        stream = stream_name(settings.nats_prefix, "progress")
        before = (await js.stream_info(stream)).state.messages
        huge = b'{"padding": "' + b"x" * (settings.event_default_max_bytes + 100 * 1024) + b'"}'
        with pytest.raises(APIError) as refused:
            await js.publish(f"{settings.nats_prefix}.progress.reported.52.21787", huge, stream=stream)
        assert "size" in str(refused.value).lower()
        assert (await js.stream_info(stream)).state.messages == before
    finally:
        await client.close()


@pytest.fixture
async def small_events(settings: Settings, database_roles: DatabaseRoles) -> AsyncIterator[System]:
    """The plans service with plan events limited to 64 KB."""
    async with running(settings, database_roles, "plans", event_max_bytes={"plan": 64 * 1024}) as system:
        yield system


async def test_a_write_whose_event_is_over_the_limit_is_refused_with_nothing_stored(small_events: System) -> None:
    system = small_events.as_(OPERATOR)
    loaded = await system.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
    assert loaded.status_code == 200, loaded.text[:300]
    task = ONE_COMMUNE_PLAN["tasks"][0]
    title = "tuyên truyền cải cách hành chính " * 7
    tasks = [{**task, "ref": str(n), "title": f"Nhiệm vụ {n}: {title}"} for n in range(1, 301)]
    plan = {**ONE_COMMUNE_PLAN, "number": "77/KH-UBND", "tasks": tasks}

    drafted = await system.post("/api/plans", json=plan)  # a draft's event does not carry its tasks
    assert drafted.status_code == 201, drafted.text[:500]
    plan_id = drafted.json()["id"]
    outbox_before = await outbox_rows(small_events)

    refused = await system.post(f"/api/plans/{plan_id}/issue")

    assert refused.status_code == 413, refused.text[:500]
    problems = refused.json()["detail"]
    assert [p["field"] for p in problems] == ["body"]
    assert "quá lớn" in problems[0]["msg"] and "plan.issued" in problems[0]["msg"]
    assert (await system.get(f"/api/plans/{plan_id}")).json()["status"] == "draft"
    assert await outbox_rows(small_events) == outbox_before  # nothing for the relay to fail on
    # the service goes on: a plan of ordinary size is issued and its event published
    ordinary = await system.post("/api/plans", json={**ONE_COMMUNE_PLAN, "number": "78/KH-UBND"})
    assert (await system.post(f"/api/plans/{ordinary.json()['id']}/issue")).status_code == 200


async def test_a_full_stream_holds_back_its_own_family_and_loses_nothing(system: System) -> None:
    """The plan stream refuses new messages (full, discard new): plan events wait in the outbox,
    while the plans service's other families are still published; once there is room, the
    waiting events go out."""
    operator = system.as_(OPERATOR)
    loaded = await operator.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
    assert loaded.status_code == 200, loaded.text[:300]
    first = await operator.post("/api/plans", json={**ONE_COMMUNE_PLAN, "number": "80/KH-UBND"})
    assert first.status_code == 201, first.text[:300]
    await system.settled()
    client = await nats.connect(system.settings.nats_url)
    js = client.jetstream()
    stream = stream_name(system.settings.nats_prefix, "plan")
    try:
        info = await js.stream_info(stream)
        full = copy.copy(info.config)
        assert info.state.messages >= 1  # (a limit of 0 would mean none)
        full.max_msgs = info.state.messages  # no room for one more
        await js.update_stream(full)

        # more waiting plan events than the relay takes in one pass (256), ahead of a unit event
        waiting = 300
        await write_plan_events(system, waiting)
        renamed = await operator.patch("/api/units/21787", json={"name": "Xã Vĩnh Sơn mới"})
        assert renamed.status_code == 200, renamed.text[:300]

        async def unit_published() -> bool:
            return await outbox_rows(system, family="unit", waiting=True) == 0

        await system.eventually(unit_published, timeout=30)  # not stuck behind the plan family's
        assert await outbox_rows(system, family="plan", waiting=True) == waiting
        health = await system.clients["plans"].get("/healthz")  # still serving, and says what waits
        assert health.status_code == 200 and health.json()["waiting"] == ["plan"]
        assert (await js.stream_info(stream)).state.messages == info.state.messages

        roomy = copy.copy(info.config)
        roomy.max_msgs = -1
        await js.update_stream(roomy)

        async def plan_published() -> bool:
            return await outbox_rows(system, family="plan", waiting=True) == 0

        await system.eventually(plan_published, timeout=60)
        assert (await system.clients["plans"].get("/healthz")).json()["waiting"] == []
        assert (await js.stream_info(stream)).state.messages == info.state.messages + waiting
    finally:
        await client.close()


async def write_plan_events(system: System, count: int) -> None:
    """`count` plan.closed events in the plans service's outbox, as its writes would leave them."""
    plans = system.services["plans"]
    envelopes = closed_plans(system, count)
    with system_scope():
        async with plans.sessions() as session, session.begin():
            await outbox.add(session, plans.outbox, envelopes, prefix=system.settings.nats_prefix, limits=EventLimits())
