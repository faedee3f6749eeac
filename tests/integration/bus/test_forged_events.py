"""Forged events published straight to JetStream, as anyone who reaches the server could (the
server does not authenticate publishers): a huge report version does not lock a subtree, a huge
plan version does not make tasks ignore the next real amendment, a unit.created does not move a
unit under another parent in the reports read model, and an event whose producer does not own
its family is refused. Each is dead-lettered with its reason and changes nothing — on a real
nats-server and PostgreSQL."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import nats
import pytest
from pydantic import BaseModel

from shared.db import plain_url
from shared.events import (
    PlanAmended,
    PlanIssued,
    PlanTask,
    ReportReviewed,
    TaskChanges,
    UnitCreated,
    UnitRef,
    UnitRenamed,
    make_event,
    stream_name,
    subject,
)
from shared.timelines import parse_timeline
from tests.integration.conftest import System
from tests.integration.plans_data import ONE_COMMUNE_PLAN
from tests.integration.steps import dead_letters, q1_assignment

pytestmark = pytest.mark.integration

COMMUNE, NEIGHBOUR = "21787", "21583"
PROVINCE_REF = UnitRef(code="52", path="52", name="UBND tỉnh Gia Lai", level="province")
COMMUNE_REF = UnitRef(code=COMMUNE, path=f"52.{COMMUNE}", name="Xã Vĩnh Sơn", level="commune")


@dataclass(frozen=True)
class Forged:
    subject: str
    body: bytes


async def forge(system: System, event_type: str, payload: BaseModel, unit_path: str, *, producer: str) -> Forged:
    """Publish an event as a forger would, on the subject it claims."""
    envelope = make_event(event_type, unit_path=unit_path, producer=producer, payload=payload, at=system.clock.now())
    prefix = system.settings.nats_prefix
    forged = Forged(subject(prefix, event_type, unit_path), envelope.model_dump_json().encode())
    client = await nats.connect(system.settings.nats_url)
    try:
        await client.jetstream().publish(
            forged.subject,
            forged.body,
            stream=stream_name(prefix, event_type.split(".", 1)[0]),
            headers={"Nats-Msg-Id": str(envelope.id)},
        )
    finally:
        await client.close()
    return forged


async def parked(system: System, service: str, forged: Forged) -> str:
    """The reason `service` dead-lettered the forged event (waits for it)."""
    prefix = system.settings.nats_prefix

    async def letter() -> str | None:
        for message in await dead_letters(system):
            if message.subject == f"{prefix}.dlq.{service}.{forged.subject}" and message.data == forged.body:
                return str(message.headers["Cchc-Error"])
        return None

    return str(await system.eventually(letter))


async def report_progress(system: System, assignment_id: str, status: str = "in_progress") -> int:
    sent = await system.post(
        f"/api/assignments/{assignment_id}/progress",
        json={"period": "2026-Q1", "status": status, "outputs": {"article": 1}, "reporter": {"unit": COMMUNE}},
    )
    return sent.status_code


async def issued_plan(system: System) -> tuple[str, dict[str, Any]]:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200
    return plan_id, await q1_assignment(system, COMMUNE)


async def test_a_forged_report_accepted_with_a_huge_version_locks_nothing(system: System) -> None:
    _, assignment = await issued_plan(system)
    forged = ReportReviewed(
        report_id=uuid.uuid4(),
        unit=COMMUNE_REF,
        period="2026-Q1",
        version=1_000_000_000,
        reviewer=PROVINCE_REF,
        decided_at=system.clock.now(),
    )
    where = await forge(system, "report.accepted", forged, COMMUNE_REF.path, producer="reports")
    reason = await parked(system, "tasks", where)
    assert "report.accepted v1000000000 of 52.21787 2026-Q1: no such submission known to tasks" in reason
    # the same decision claimed by another service is refused at once, by every consumer
    other = await forge(
        system, "report.accepted", forged.model_copy(update={"version": 1}), COMMUNE_REF.path, producer="notify"
    )
    assert "only reports publishes report.*" in await parked(system, "tasks", other)
    assert "only reports publishes report.*" in await parked(system, "notify", other)
    await system.settled()

    assert await report_progress(system, assignment["id"]) == 201  # the subtree is not locked
    admin = await asyncpg.connect(plain_url(system.settings.database_url or ""))
    try:
        assert await admin.fetch("SELECT * FROM tasks.report_locks") == []
    finally:
        await admin.close()


async def test_a_forged_plan_version_does_not_make_tasks_ignore_the_next_real_amendment(system: System) -> None:
    plan_id, assignment = await issued_plan(system)
    task = PlanTask(
        ref="1",
        title="Tiêu đề giả mạo",
        lead=[COMMUNE_REF],
        schedule=parse_timeline("Định kỳ 01 lần/quý"),
    )
    issued = PlanIssued(
        plan_id=uuid.UUID(plan_id),
        number=ONE_COMMUNE_PLAN["number"],
        title="Kế hoạch giả mạo",
        issuer=PROVINCE_REF,
        period="2026",
        tasks=[task],
        version=1_000_000,
    )
    where = await forge(system, "plan.issued", issued, "52", producer="plans")
    assert "a plan is issued as version 1" in await parked(system, "tasks", where)
    assert "a plan is issued as version 1" in await parked(system, "reports", where)
    amended = PlanAmended(
        **issued.model_dump(exclude={"version", "parent_plan_id"}), version=1_000_000, changes=TaskChanges()
    )
    where = await forge(system, "plan.amended", amended, "52", producer="plans")
    reason = await parked(system, "tasks", where)  # after the last delivery: the versions between never came
    assert f"plan.amended v1000000 of plan {plan_id}: tasks holds v1, waits for the versions between" in reason
    assert "reports holds v1" in await parked(system, "reports", where)
    await system.settled()
    assignments = (await system.get("/api/assignments", params={"unit": COMMUNE})).json()["items"]
    assert {a["task_title"] for a in assignments} == {ONE_COMMUNE_PLAN["tasks"][0]["title"]}  # nothing applied

    real = copy.deepcopy(ONE_COMMUNE_PLAN)
    real["tasks"][0]["title"] = "Gửi tin, bài về cải cách hành chính trên trang thông tin điện tử"
    result = await system.post(f"/api/plans/{plan_id}/amend", json=real)
    assert result.status_code == 200 and result.json()["version"] == 2, result.text

    async def reworded() -> bool:
        current = await q1_assignment(system, COMMUNE)
        return current["id"] == assignment["id"] and current["task_title"] == real["tasks"][0]["title"]

    await system.eventually(reworded)


async def test_a_forged_unit_created_does_not_move_a_unit_in_the_reports_read_model(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    admin = await asyncpg.connect(plain_url(system.settings.database_url or ""))
    query = "SELECT name, parent, path, rollup_to FROM reports.units WHERE code = $1"
    try:

        async def known() -> Any:
            return await admin.fetchrow(query, COMMUNE)

        before = dict(await system.eventually(known))
        assert (before["parent"], before["path"]) == ("52", f"52.{COMMUNE}")

        moved = UnitCreated(
            code=COMMUNE, name="Xã giả mạo", level="commune", parent=NEIGHBOUR, path=f"52.{NEIGHBOUR}.{COMMUNE}"
        )
        where = await forge(system, "unit.created", moved, moved.path, producer="plans")
        assert f"unit.created would move unit {COMMUNE} from 52.{COMMUNE} to 52.{NEIGHBOUR}.{COMMUNE}" in (
            await parked(system, "reports", where)
        )
        lying = moved.model_copy(update={"path": f"52.{COMMUNE}"})  # a parent its path does not say
        where = await forge(system, "unit.created", lying, lying.path, producer="plans")
        assert f"parent '{NEIGHBOUR}' is not the unit above 52.{COMMUNE}" in await parked(system, "reports", where)
        renamed = UnitRenamed(**moved.model_dump(exclude={"valid_from", "valid_to"}))
        where = await forge(system, "unit.renamed", renamed, moved.path, producer="tasks")
        assert "only plans publishes unit.*" in await parked(system, "reports", where)
        await system.settled()
        assert dict(await admin.fetchrow(query, COMMUNE)) == before
    finally:
        await admin.close()
