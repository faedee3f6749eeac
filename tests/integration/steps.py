"""Steps several integration tests take: find an assignment, restart a service at another
instant, publish an event as another system would, and look at what came of it."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import nats
from sqlalchemy import func, select

from services.notify import models as notify_models
from services.reports import models as reports_models
from shared.clock import FixedClock
from shared.db import system_scope
from shared.events import AssignmentCreated, Envelope, PlanClosed, UnitRef, make_event, stream_name

if TYPE_CHECKING:
    from tests.integration.conftest import System


async def q1_assignment(system: System, unit: str) -> dict:
    async def found() -> list:
        return (await system.get("/api/assignments", params={"unit": unit, "period": "2026-Q1"})).json()["items"]

    return (await system.eventually(found))[0]


async def move_tasks_clock(system: System, at: datetime) -> None:
    """Restart the tasks service at another instant: state, not timers, decides what is sent."""
    await system.stop("tasks")
    await system.start("tasks", clock=FixedClock(at))


def assignment_event(unit: str = "21787") -> tuple[bytes, uuid.UUID, str]:
    payload = AssignmentCreated(
        assignment_id=uuid.uuid4(),
        plan_id=uuid.uuid4(),
        plan_number="7/KH-UBND",
        task_ref="2",
        task_title="Tuyên truyền trên Đài truyền thanh xã",
        unit=UnitRef(code=unit, path=f"52.{unit}", name="Xã Vĩnh Sơn"),
        role="lead",
        period="2026-Q1",
        due=date(2026, 3, 15),
    )
    envelope = make_event(
        "assignment.created", unit_path=f"52.{unit}", producer="tasks", payload=payload, at=datetime.now(UTC)
    )
    return envelope.model_dump_json().encode(), payload.assignment_id, envelope.unit


async def notifications_for(system: System, assignment_id: uuid.UUID) -> int:
    with system_scope():  # every unit's notifications (row-level security)
        async with system.services["notify"].sessions() as session:
            n = notify_models.notifications
            return int(
                (
                    await session.execute(select(func.count()).select_from(n).where(n.c.subject_id == assignment_id))
                ).scalar_one()
            )


async def assignments_in_reports(system: System, assignment_id: uuid.UUID) -> int:
    """Rows of the reports read model for one assignment (0 or 1)."""
    with system_scope():
        async with system.services["reports"].sessions() as session:
            a = reports_models.assignments
            return int(
                (await session.execute(select(func.count()).select_from(a).where(a.c.id == assignment_id))).scalar_one()
            )


async def dead_letters(system: System) -> list[Any]:
    client = await nats.connect(system.settings.nats_url)
    try:
        js = client.jetstream()
        prefix = system.settings.nats_prefix
        state = (await js.stream_info(stream_name(prefix, "dlq"))).state
        if not state.messages:
            return []
        return [await js.get_msg(stream_name(prefix, "dlq"), seq) for seq in range(state.first_seq, state.last_seq + 1)]
    finally:
        await client.close()


def fetched_batches(
    sequence: list[tuple[Any, Any]], rng: random.Random, *, largest: int
) -> list[tuple[str, list[Any]]]:
    """(payload, meta) pairs as a batched consumer takes them: fetched batches of 1 to `largest`,
    each split by event type (each type has its own durable consumer), arrival order kept."""
    split: list[tuple[str, list[Any]]] = []
    start = 0
    while start < len(sequence):
        size = rng.randint(1, largest)
        by_type: dict[str, list[Any]] = {}
        for item in sequence[start : start + size]:
            by_type.setdefault(item[1].type, []).append(item)
        split += by_type.items()
        start += size
    return split


def closed_plans(system: System, count: int) -> list[Envelope]:
    """`count` plan.closed events of Gia Lai's plans, as the plans service's writes make them."""
    issuer = UnitRef(code="52", path="52", name="UBND tỉnh Gia Lai", level="province")
    return [
        make_event(
            "plan.closed",
            unit_path="52",
            producer="plans",
            payload=PlanClosed(plan_id=uuid.uuid4(), number=f"{n}/KH-UBND", issuer=issuer),
            at=system.clock.now(),
        )
        for n in range(count)
    ]
