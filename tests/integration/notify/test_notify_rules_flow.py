"""Notification rules on real NATS, PostgreSQL and SMTP: rules per plan and per unit, overdue
escalated to the supervising unit once after the grace period, report decisions, the daily
digest, and one message per recipient under redelivery and with two notify replicas."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import nats
import pytest
from sqlalchemy import select

from services.notify import models as notify_models
from shared.clock import VN, FixedClock
from shared.events import (
    AssignmentCancelled,
    Envelope,
    OccurrenceDueSoon,
    OccurrenceOverdue,
    ProgressReported,
    ReportReviewed,
    UnitRef,
    make_event,
    stream_name,
    subject,
)
from tests.integration.conftest import System
from tests.integration.notify.peers import Mailbox, configure
from tests.integration.plans_data import ONE_COMMUNE_PLAN
from tests.integration.steps import move_tasks_clock

pytestmark = pytest.mark.integration

LEAD, QUY_NHON, QUY_NHON_DONG = "21787", "21583", "21601"  # Xã Vĩnh Sơn, two wards of Gia Lai


def at_vn(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=VN).astimezone(UTC)


async def notes(system: System, unit: str, kind: str) -> list[dict]:
    return (await system.get("/api/notifications", params={"unit": unit, "kind": kind})).json()["items"]


async def count_is(system: System, unit: str, kind: str, n: int) -> list[dict] | None:
    found = await notes(system, unit, kind)
    return found if len(found) == n else None


async def issue(system: System, plan: dict[str, Any], rules: dict[str, Any] | None = None) -> str:
    plan_id: str = (await system.post("/api/plans", json=plan)).json()["id"]
    if rules is not None:
        put = await system.put(f"/api/notifications/rules/plans/{plan_id}", json=rules)
        assert put.status_code == 200, put.text
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200
    return plan_id


async def move_notify_clock(system: System, at: datetime) -> None:
    """Restart notify (and its second replica, if running) at another instant."""
    for key in [k for k in ("notify", "notify-2") if k in system.services]:
        await system.stop(key)
        await system.start("notify", clock=FixedClock(at), replica=key)


async def run_notify_jobs(system: System) -> None:
    """What the next ticks of every notify replica would do (escalations, digests, deliveries),
    and all it causes."""
    for key in [k for k in ("notify", "notify-2") if k in system.services]:
        await system.run_jobs(key)
    await system.settled()


async def publish(system: System, envelope: Envelope, *, msg_id: str | None = None) -> None:
    """As another system would; a new msg id gets past JetStream's de-dup window (a redelivery)."""
    client = await nats.connect(system.settings.nats_url)
    try:
        prefix = system.settings.nats_prefix
        await client.jetstream().publish(
            subject(prefix, envelope.type, envelope.unit),
            envelope.model_dump_json().encode(),
            stream=stream_name(prefix, envelope.type.split(".")[0]),
            headers={"Nats-Msg-Id": msg_id or str(uuid.uuid4())},
        )
    finally:
        await client.close()


async def mails_settle(box: Mailbox, n: int, system: System) -> list:
    await system.eventually(lambda: _at_least(box, n))
    await system.settled()  # and nothing more comes
    return box.messages


async def _at_least(box: Mailbox, n: int) -> bool:
    return len(box.messages) >= n


async def test_rules_of_a_plan_and_of_a_unit_decide_who_is_told_and_when(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    # The plan: coordinating units are not told, and only the 1-day reminder goes out.
    # Quy Nhơn (coordinating) asked to be told all the same: a unit's rule wins over the plan's.
    assert (await system.put(f"/api/notifications/rules/units/{QUY_NHON}", json={"coordinating": True})).is_success
    plan = {**ONE_COMMUNE_PLAN, "tasks": [{**ONE_COMMUNE_PLAN["tasks"][0], "coordinating": [QUY_NHON, QUY_NHON_DONG]}]}
    plan_id = await issue(system, plan, rules={"coordinating": False, "due_soon_days": [1]})

    assigned = await system.eventually(lambda: count_is(system, LEAD, "assigned", 4))
    marked = await system.eventually(lambda: count_is(system, QUY_NHON, "assigned", 4))
    assert "chủ trì" in assigned[0]["body"] and "phối hợp thực hiện" in marked[0]["body"]
    await system.settled()
    assert await notes(system, QUY_NHON_DONG, "assigned") == []

    await move_tasks_clock(system, datetime(2026, 3, 10, 1, tzinfo=UTC))  # the 7-day reminder: not wanted
    await system.run_jobs("tasks")
    await system.settled()
    assert await notes(system, LEAD, "due_soon") == []
    await move_tasks_clock(system, datetime(2026, 3, 15, 1, tzinfo=UTC))  # the 1-day reminder
    soon = await system.eventually(lambda: count_is(system, LEAD, "due_soon", 1))
    assert "còn 1 ngày" in soon[0]["title"]
    await system.eventually(lambda: count_is(system, QUY_NHON, "due_soon", 1))
    assert await notes(system, QUY_NHON_DONG, "due_soon") == []

    rules = (await system.get("/api/notifications/rules", params={"unit": QUY_NHON, "plan": plan_id})).json()
    assert rules["effective"]["coordinating"] is True and rules["effective"]["due_soon_days"] == [1]
    assert rules["plan"] == {"coordinating": False, "due_soon_days": [1]} and rules["defaults"]["due_soon_days"] == [
        7,
        1,
    ]

    refusals = [
        ("plans", plan_id, {"due_soon_days": [5]}, "due_soon_days[0]"),
        ("plans", plan_id, {"digest": True}, "digest"),
        ("plans", plan_id, {"escalate_after_days": -1}, "escalate_after_days"),
        ("plans", plan_id, {"remind": True}, "remind"),
        ("units", LEAD, {"digest_at": "25:00"}, "digest_at"),
        ("units", LEAD, {"digest_at": "07:00+07:00"}, "digest_at"),
        ("units", LEAD, {"due_soon_days": [1, 1]}, "due_soon_days"),
    ]
    for scope, key, body, field_name in refusals:
        refused = await system.put(f"/api/notifications/rules/{scope}/{key}", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["detail"][0]["field"] == field_name, (body, refused.json())
    after = (await system.get("/api/notifications/rules", params={"unit": LEAD, "plan": plan_id})).json()
    assert after["plan"] == {"coordinating": False, "due_soon_days": [1]} and after["unit"] is None  # nothing stored


async def test_overdue_is_escalated_to_the_supervising_unit_once_after_the_grace_period(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan = {**ONE_COMMUNE_PLAN, "tasks": [{**ONE_COMMUNE_PLAN["tasks"][0], "lead": [LEAD, QUY_NHON]}]}
    await issue(system, plan, rules={"escalate_after_days": 2})
    await system.eventually(lambda: count_is(system, QUY_NHON, "assigned", 4))

    await move_tasks_clock(system, datetime(2026, 3, 17, 1, tzinfo=UTC))  # Q1 was due 16/03: overdue
    late = await system.eventually(lambda: count_is(system, LEAD, "overdue", 1))
    assert "16/03/2026" in late[0]["body"]
    await system.eventually(lambda: count_is(system, QUY_NHON, "overdue", 1))

    # Quy Nhơn reports its Q1 done within the grace period; Vĩnh Sơn does not.
    items = (await system.get("/api/assignments", params={"unit": QUY_NHON, "period": "2026-Q1"})).json()["items"]
    done = await system.post(
        f"/api/assignments/{items[0]['id']}/progress",
        json={"period": "2026-Q1", "status": "done", "outputs": {"article": 1}, "reporter": {"unit": QUY_NHON}},
    )
    assert done.status_code == 201, done.text

    async def resolved() -> bool:
        async with system.services["notify"].sessions() as session:
            e = notify_models.escalations
            rows = (await session.execute(select(e.c.unit_code, e.c.status))).all()
        return sorted(tuple(r) for r in rows) == [(QUY_NHON, "resolved"), (LEAD, "pending")]

    await system.eventually(resolved)
    await system.start("notify", replica="notify-2")  # two replicas run the escalation job from now on
    await move_notify_clock(system, at_vn(date(2026, 3, 18), 9))  # 1 day after the overdue notice
    await run_notify_jobs(system)
    assert await notes(system, "52", "escalated") == []

    await move_notify_clock(system, at_vn(date(2026, 3, 19), 9))  # the grace of 2 days has passed
    told = await system.eventually(lambda: count_is(system, "52", "escalated", 1))
    assert "Xã Vĩnh Sơn" in told[0]["title"] and "quá hạn 3 ngày" in told[0]["body"], told[0]
    assert "16/03/2026" in told[0]["body"]

    await move_notify_clock(system, at_vn(date(2026, 3, 25), 9))  # later days: once is once
    await run_notify_jobs(system)
    assert len(await notes(system, "52", "escalated")) == 1


async def test_who_decides_an_escalation_and_what_settles_it_even_out_of_order(system: System) -> None:
    """Events published as the tasks service would, in an order the streams allow."""
    plan_id, quiet_plan = uuid.uuid4(), uuid.uuid4()
    assert (await system.put(f"/api/notifications/rules/plans/{quiet_plan}", json={"escalate": False})).is_success
    # A late commune cannot switch off its own escalation: the supervisor's side decides.
    assert (await system.put(f"/api/notifications/rules/units/{LEAD}", json={"escalate": False})).is_success
    due, noticed = date(2026, 3, 16), datetime(2026, 3, 17, 1, tzinfo=UTC)
    unit = UnitRef(code=LEAD, path=f"52.{LEAD}", name="Xã Vĩnh Sơn", level="commune")

    def overdue(assignment: uuid.UUID, *, plan: uuid.UUID = plan_id, role: str = "lead") -> Envelope:
        payload = OccurrenceOverdue(
            assignment_id=assignment,
            plan_id=plan,
            plan_number="20/KH-UBND",
            task_ref="3",
            task_title="Tuyên truyền trên loa truyền thanh",
            unit=unit,
            period="2026-Q1",
            due=due,
            role=role,  # type: ignore[arg-type]
        )
        return make_event("occurrence.overdue", unit_path=unit.path, producer="tasks", payload=payload, at=noticed)

    done_first, cancelled_first, coordinating, quiet, escalated = (uuid.uuid4() for _ in range(5))
    report = ProgressReported(
        report_id=uuid.uuid4(),
        assignment_id=done_first,
        plan_id=plan_id,
        unit=unit,
        period="2026-Q1",
        due=due,
        status="done",
        outputs={"broadcast": 4},
        reported_at=noticed,
        on_time=False,
    )
    cancel = AssignmentCancelled(assignment_id=cancelled_first, plan_id=plan_id, unit=unit, period="2026-Q1", reason="")
    await publish(
        system, make_event("progress.reported", unit_path=unit.path, producer="tasks", payload=report, at=noticed)
    )
    await publish(
        system, make_event("assignment.cancelled", unit_path=unit.path, producer="tasks", payload=cancel, at=noticed)
    )

    async def settled() -> bool:
        async with system.services["notify"].sessions() as session:
            return len((await session.execute(select(notify_models.settled))).all()) == 2

    await system.eventually(settled)
    for envelope in (
        overdue(done_first),
        overdue(cancelled_first),
        overdue(coordinating, role="coordinating"),
        overdue(quiet, plan=quiet_plan),
        overdue(escalated),
    ):
        await publish(system, envelope)
    await system.eventually(lambda: count_is(system, LEAD, "overdue", 5))  # the unit is told of each

    await move_notify_clock(system, at_vn(date(2026, 3, 21), 9))  # past the default grace of 3 days
    told = await system.eventually(lambda: count_is(system, "52", "escalated", 1))
    assert told[0]["subject_id"] == str(escalated)
    await run_notify_jobs(system)
    assert len(await notes(system, "52", "escalated")) == 1


async def test_report_decisions_reach_the_reporting_unit_once_by_mail(
    system: System,
    mailbox: tuple[Mailbox, int],  # noqa: F811 — the fixture
) -> None:
    box, port = mailbox
    await configure(system, port)
    contact = {"unit": LEAD, "name": "Chị Lan", "email": "lan@vinhson.gialai.gov.vn", "channels": ["email"]}
    assert (await system.post("/api/notifications/contacts", json=contact)).status_code == 201
    report_id = uuid.uuid4()

    def decision(event_type: str, version: int, reason: str = "") -> Envelope:
        payload = ReportReviewed(
            report_id=report_id,
            unit=UnitRef(code=LEAD, path=f"52.{LEAD}", name="Xã Vĩnh Sơn", level="commune"),
            period="2026-Q1",
            version=version,
            reviewer=UnitRef(code="52", path="52", name="UBND tỉnh Gia Lai", level="province"),
            reason=reason,
            decided_at=datetime(2026, 3, 20, 3, tzinfo=UTC),
        )
        return make_event(
            event_type, unit_path=f"52.{LEAD}", producer="reports", payload=payload, at=payload.decided_at
        )

    returned = decision("report.returned", 1, "Thiếu số liệu hội nghị tuyên truyền")
    await publish(system, returned)
    await publish(system, returned)  # redelivered: the same event again
    await publish(system, decision("report.accepted", 2))

    back = await system.eventually(lambda: count_is(system, LEAD, "report_returned", 1))
    assert back[0]["title"] == "Báo cáo quý I năm 2026 bị trả lại", back[0]["title"]
    assert "Lý do: Thiếu số liệu hội nghị tuyên truyền" in back[0]["body"] and "20/03/2026" in back[0]["body"]
    ok = await system.eventually(lambda: count_is(system, LEAD, "report_accepted", 1))
    assert "lần gửi 2" in ok[0]["body"]
    assert back[0]["link"].endswith(f"/reports/{LEAD}/2026-Q1")  # the report's page, not the API's JSON
    mails = await mails_settle(box, 2, system)
    assert sorted(str(m["Subject"]) for m in mails) == sorted([back[0]["title"], ok[0]["title"]])


async def test_a_unit_that_chose_the_digest_gets_one_message_a_day_grouped_by_plan(
    system: System,
    mailbox: tuple[Mailbox, int],  # noqa: F811 — the fixture
) -> None:
    box, port = mailbox
    await configure(system, port)
    await move_notify_clock(system, at_vn(date(2026, 2, 10), 6))  # before today's digest time
    contact = {"unit": LEAD, "name": "Anh Bình", "email": "binh@vinhson.gialai.gov.vn", "channels": ["email"]}
    assert (await system.post("/api/notifications/contacts", json=contact)).status_code == 201
    chosen = await system.put(f"/api/notifications/rules/units/{LEAD}", json={"digest": True, "digest_at": "07:00"})
    assert chosen.status_code == 200, chosen.text
    await system.post("/api/units/load", json={"provinces": ["52"]})
    await issue(system, ONE_COMMUNE_PLAN)
    second = {
        **ONE_COMMUNE_PLAN,
        "number": "15/KH-UBND",
        "tasks": [{**ONE_COMMUNE_PLAN["tasks"][0], "ref": "2", "title": "Tọa đàm về thủ tục hành chính"}],
    }
    await issue(system, second)

    # Each message is in the inbox at once; nothing is mailed before the digest.
    await system.eventually(lambda: count_is(system, LEAD, "assigned", 8))
    await run_notify_jobs(system)
    assert box.messages == []

    await move_notify_clock(system, at_vn(date(2026, 2, 10), 7, 30))
    first = (await mails_settle(box, 1, system))[0]
    assert str(first["Subject"]) == "Tổng hợp ngày 10/02/2026: 0 việc quá hạn, 0 việc sắp đến hạn"
    text = first.get_content()
    assert text.index("Kế hoạch 12/KH-UBND") < text.index("Kế hoạch 15/KH-UBND"), text
    assert text.count("Gửi tin, bài về kết quả cải cách hành chính (chủ trì)") == 4
    assert text.count("Tọa đàm về thủ tục hành chính (chủ trì)") == 4
    assert re.search(r"Kế hoạch 12/KH-UBND: https?://\S+/plans/[0-9a-f-]{36}\n", text), text
    assert "1 Gửi tin, bài về kết quả cải cách hành chính (chủ trì) — hạn 16/03/2026" in text

    # Due soon, then overdue: each day's digest lists them, by plan.
    await move_tasks_clock(system, datetime(2026, 3, 10, 1, tzinfo=UTC))
    await system.eventually(lambda: count_is(system, LEAD, "due_soon", 2))
    await move_notify_clock(system, at_vn(date(2026, 3, 10), 7, 5))
    await mails_settle(box, 2, system)
    soon = box.messages[1]
    assert str(soon["Subject"]) == "Tổng hợp ngày 10/03/2026: 0 việc quá hạn, 2 việc sắp đến hạn"
    assert "Sắp đến hạn:\n  - 2 Tọa đàm về thủ tục hành chính — hạn 16/03/2026 (còn 6 ngày)" in soon.get_content()

    await move_tasks_clock(system, datetime(2026, 3, 17, 1, tzinfo=UTC))
    await system.eventually(lambda: count_is(system, LEAD, "overdue", 2))
    await move_notify_clock(system, at_vn(date(2026, 3, 17), 8))
    await mails_settle(box, 3, system)
    late = box.messages[2]
    assert str(late["Subject"]) == "Tổng hợp ngày 17/03/2026: 2 việc quá hạn, 0 việc sắp đến hạn"
    late_text = late.get_content()
    assert late_text.count("Quá hạn:\n  - ") == 2 and "hạn 16/03/2026" in late_text
    assert len(box.messages) == 3
    digests = await notes(system, LEAD, "digest")
    assert len(digests) == 3  # also in the inbox


async def test_two_notify_replicas_under_redelivery_send_one_message_per_recipient(
    system: System,
    mailbox: tuple[Mailbox, int],  # noqa: F811 — the fixture
) -> None:
    box, port = mailbox
    await configure(system, port)
    await system.start("notify", replica="notify-2")
    units = {LEAD: "Xã Vĩnh Sơn", QUY_NHON: "Phường Quy Nhơn", QUY_NHON_DONG: "Phường Quy Nhơn Đông"}
    for code, name in units.items():
        contact = {"unit": code, "name": f"Văn phòng {name}", "email": f"vp{code}@gialai.gov.vn", "channels": ["email"]}
        assert (await system.post("/api/notifications/contacts", json=contact)).status_code == 201
    plan_id = uuid.uuid4()
    events = []
    for code, name in units.items():
        for task in range(1, 11):
            payload = OccurrenceDueSoon(
                assignment_id=uuid.uuid4(),
                plan_id=plan_id,
                plan_number="20/KH-UBND",
                task_ref=str(task),
                task_title=f"Nhiệm vụ {task}",
                unit=UnitRef(code=code, path=f"52.{code}", name=name, level="commune"),
                period="2026-Q1",
                due=date(2026, 3, 16),
                lead_days=7,
                days_left=6,
            )
            events.append(
                make_event(
                    "occurrence.due_soon",
                    unit_path=f"52.{code}",
                    producer="tasks",
                    payload=payload,
                    at=datetime.now(UTC),
                )
            )
    for envelope in events:
        await publish(system, envelope)
        await publish(system, envelope)  # the same event redelivered
        again = envelope.model_copy(update={"id": uuid.uuid4()})  # the sweep's event re-emitted
        await publish(system, again)

    mails = await mails_settle(box, 30, system)
    assert len(mails) == 30
    assert Counter(m["To"].addresses[0].addr_spec for m in mails) == {f"vp{c}@gialai.gov.vn": 10 for c in units}
    assert len({m["Message-ID"] for m in mails}) == 30
    for code in units:
        assert len(await notes(system, code, "due_soon")) == 10
