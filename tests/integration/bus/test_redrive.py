"""Re-driving the dead-letter stream (shared/dead_letters.py, `cchc dead-letters`): an event a
service could not apply is parked; once the cause is gone — its prerequisite arrived late, a bug
was fixed — it is re-driven and applied once, the letter is gone so a second re-drive finds
nothing, and the services that had applied it already are not affected (their inbox) — on a real
nats-server and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import nats
import pytest
from click.testing import Result
from typer.testing import CliRunner

from cchc.cli import app as cli
from shared.clock import VN
from shared.db import plain_url
from shared.dead_letters import DeadLetter, DeadLetters, NoSuchLetter
from shared.events import Envelope, ReportReviewed, ReportSubmitted, UnitRef, make_event, stream_name, subject
from tests.integration.conftest import System
from tests.integration.steps import assignment_event, assignments_in_reports, notifications_for

pytestmark = pytest.mark.integration

PROVINCE = UnitRef(code="52", path="52", name="UBND tỉnh Gia Lai", level="province")
COMMUNE = UnitRef(code="21787", path="52.21787", name="Xã Vĩnh Sơn", level="commune")
DECIDED = datetime(2026, 4, 8, 3, tzinfo=UTC)


async def publish(system: System, event_type: str, unit_path: str, body: bytes, *, msg_id: str) -> int:
    """Publish as the owning service's relay would; the message's sequence in its stream."""
    client = await nats.connect(system.settings.nats_url)
    try:
        prefix = system.settings.nats_prefix
        ack = await client.jetstream().publish(
            subject(prefix, event_type, unit_path),
            body,
            stream=stream_name(prefix, event_type.split(".", 1)[0]),
            headers={"Nats-Msg-Id": msg_id},
        )
        return ack.seq
    finally:
        await client.close()


async def send(system: System, envelope: Envelope) -> int:
    body = envelope.model_dump_json().encode()
    return await publish(system, envelope.type, envelope.unit, body, msg_id=str(envelope.id))


async def letters_of(system: System, service: str) -> list[DeadLetter]:
    async with DeadLetters.connected(system.settings) as letters:
        return await letters.list_(service=service)


async def parked(system: System, service: str, body: bytes) -> DeadLetter:
    """The letter `service` parked with these bytes (waits for it)."""

    async def found() -> DeadLetter | None:
        return next((letter for letter in await letters_of(system, service) if letter.data == body), None)

    letter: DeadLetter = await system.eventually(found)
    return letter


async def report_locks(system: System) -> list[tuple[Any, ...]]:
    admin = await asyncpg.connect(plain_url(system.settings.database_url or ""))
    try:
        rows = await admin.fetch("SELECT unit_code, period, version, locked FROM tasks.report_locks")
        return [tuple(row) for row in rows]
    finally:
        await admin.close()


async def consumer_state(system: System, family: str, durable: str) -> tuple[int, int, int]:
    """(the last stream sequence delivered to it, pending, unacknowledged)."""
    client = await nats.connect(system.settings.nats_url)
    try:
        info = await client.jetstream().consumer_info(stream_name(system.settings.nats_prefix, family), durable)
        return info.delivered.stream_seq or 0, info.num_pending or 0, info.num_ack_pending or 0
    finally:
        await client.close()


async def test_a_decision_parked_before_its_submission_is_redriven_after_it_and_applied_once(system: System) -> None:
    """report.accepted reached tasks before the report.submitted it decides on: tasks waited for
    it (Premature) through every delivery and parked it; notify, which needs no submission, told
    the unit at once. The submission comes; the re-drive locks the period, notify says nothing more."""
    report_id = uuid.uuid4()
    decision = ReportReviewed(
        report_id=report_id, unit=COMMUNE, period="2026-Q1", version=1, reviewer=PROVINCE, decided_at=DECIDED
    )
    accepted = make_event("report.accepted", unit_path=COMMUNE.path, producer="reports", payload=decision, at=DECIDED)
    await send(system, accepted)

    letter = await parked(system, "tasks", accepted.model_dump_json().encode())
    assert "report.accepted v1 of 52.21787 2026-Q1: no such submission known to tasks" in letter.reason
    assert letter.deliveries == system.settings.max_deliver
    assert (letter.event_type, letter.unit, letter.event_id) == ("report.accepted", COMMUNE.path, str(accepted.id))
    assert await system.eventually(lambda: notifications_for(system, report_id)) == 1

    submission = ReportSubmitted(
        report_id=report_id, unit=COMMUNE, period="2026-Q1", version=1, parent=PROVINCE, submitted_at=DECIDED
    )
    await send(
        system,
        make_event("report.submitted", unit_path=COMMUNE.path, producer="reports", payload=submission, at=DECIDED),
    )
    await system.settled()
    assert await report_locks(system) == []  # parked is not applied

    async with DeadLetters.connected(system.settings) as letters:
        redriven = await letters.redrive(letter.seq)
        assert not redriven.duplicate and redriven.stream == stream_name(system.settings.nats_prefix, "report")
        assert await letters.list_() == []  # the letter is gone: a second re-drive finds nothing
        with pytest.raises(NoSuchLetter):
            await letters.redrive(letter.seq)

    async def locked() -> list[tuple[Any, ...]]:
        return await report_locks(system)

    assert await system.eventually(locked) == [("21787", "2026-Q1", 1, True)]
    await system.settled()
    assert await report_locks(system) == [("21787", "2026-Q1", 1, True)]
    # notify was given the re-driven copy too, found it in its inbox and only acked it
    delivered, pending, unacked = await consumer_state(system, "report", "notify-report-accepted")
    assert delivered >= redriven.seq and (pending, unacked) == (0, 0)
    assert await notifications_for(system, report_id) == 1
    assert await letters_of(system, "tasks") == [] and await letters_of(system, "notify") == []


def run_cli(system: System, *args: str) -> Result:
    env = {
        "CCHC_NATS_URL": system.settings.nats_url,
        "CCHC_NATS_PREFIX": system.settings.nats_prefix,
        "CCHC_NATS_USER": None,
    }
    return CliRunner().invoke(cli, ["dead-letters", *args], env=env, catch_exceptions=False)


async def cchc(system: System, *args: str) -> Result:
    return await asyncio.to_thread(run_cli, system, *args)  # the command runs its own event loop


async def test_the_command_line_lists_a_parked_event_and_redrives_it_once_the_bug_is_fixed(system: System) -> None:
    admin = await asyncpg.connect(plain_url(system.settings.database_url or ""))
    try:
        await admin.execute("ALTER TABLE notify.notifications RENAME TO notifications_away")  # the "bug"
        body, assignment_id, path = assignment_event()
        await publish(system, "assignment.created", path, body, msg_id=str(uuid.uuid4()))
        letter = await parked(system, "notify", body)
    finally:
        await admin.execute("ALTER TABLE notify.notifications_away RENAME TO notifications")  # the fix
        await admin.close()
    assert await system.eventually(lambda: assignments_in_reports(system, assignment_id)) == 1  # reports applied it

    listed = await cchc(system, "list")
    assert listed.exit_code == 0, listed.output
    when = letter.parked_at.astimezone(VN).strftime("%d/%m/%Y %H:%M")
    row = re.compile(rf"^\s*{letter.seq}\s+{re.escape(when)}\s+notify\s+assignment\.created\s+52\.21787\s+4\s+")
    assert any(row.match(line) for line in listed.output.splitlines()), listed.output
    assert "notifications" in listed.output  # the reason, as the database said it
    assert "Tổng: 1 sự kiện." in listed.output
    assert (
        "Không có sự kiện nào trong hàng dead-letter khớp bộ lọc."
        in (await cchc(system, "list", "--service", "reports")).output
    )

    for bad, message in (
        ("99999", "không có sự kiện số 99999 trong hàng dead-letter"),
        ("abc", "số thứ tự không hợp lệ: 'abc'"),
        ("0", "số thứ tự không hợp lệ: '0'"),
    ):
        refused = await cchc(system, "redrive", str(letter.seq), bad)
        assert refused.exit_code == 1 and f"Lỗi: {message}" in refused.output, refused.output
    refused = await cchc(system, "list", "--type", "progress.finished")
    assert refused.exit_code == 1 and "Lỗi: không có loại sự kiện 'progress.finished'" in refused.output
    assert [left.seq for left in await letters_of(system, "notify")] == [letter.seq]  # none of it was sent

    redriven = await cchc(system, "redrive", str(letter.seq))
    assert redriven.exit_code == 0, redriven.output
    assert f"Đã đưa lại số {letter.seq}: assignment.created của đơn vị 52.21787 (notify không xử lý được)" in (
        redriven.output
    )
    assert "Đã đưa lại 1 sự kiện và xóa khỏi hàng dead-letter." in redriven.output
    assert await system.eventually(lambda: notifications_for(system, assignment_id)) == 1
    await system.settled()
    assert await notifications_for(system, assignment_id) == 1
    assert await assignments_in_reports(system, assignment_id) == 1

    again = await cchc(system, "redrive", str(letter.seq))
    assert again.exit_code == 1 and f"không có sự kiện số {letter.seq}" in again.output, again.output
    assert (await cchc(system, "redrive", "--all")).output.strip() == "Không có sự kiện nào để đưa lại."
    assert (await cchc(system, "list")).output.strip() == "Không có sự kiện nào trong hàng dead-letter."
