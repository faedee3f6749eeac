"""Handler wiring without servers: every service declares its subscriptions one way, each
handler takes the payload its event type carries, and the bus decodes a message into that
payload or says why it can never be handled (then it is dead-lettered)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify import handlers as notify
from services.plans import handlers as plans
from services.reports import handlers as reports
from services.tasks import handlers as tasks
from services.tasks.domain import Current, NewAssignment, amendment
from shared.bus import Decoded, Subscription, decode, on
from shared.events import (
    EVENT_TYPES,
    Event,
    Meta,
    PlanClosed,
    PlanIssued,
    ProgressReported,
    UnitRef,
    make_event,
    subject,
)
from shared.periods import Period
from shared.settings import Settings

pytestmark = pytest.mark.unit

SETTINGS = Settings(nats_url="nats://127.0.0.1:1", database_url="postgresql://x@127.0.0.1:1/x")
CONSUMES = {  # the README's event catalogue
    plans: set(),
    tasks: {
        "plan.issued",
        "plan.amended",
        "plan.closed",
        "unit.succeeded",
        "report.submitted",
        "report.accepted",
        "report.returned",
    },
    notify: {
        "assignment.created",
        "assignment.updated",
        "assignment.cancelled",
        "occurrence.due_soon",
        "occurrence.overdue",
        "progress.reported",
        "progress.corrected",
        "report.accepted",
        "report.returned",
    },
    reports: {
        "unit.created",
        "unit.renamed",
        "unit.succeeded",
        "plan.issued",
        "plan.amended",
        "plan.closed",
        "assignment.created",
        "assignment.updated",
        "assignment.cancelled",
        "progress.reported",
        "progress.corrected",
        "audit.recorded",
    },
}


@pytest.mark.parametrize("module", list(CONSUMES), ids=lambda m: m.__name__.split(".")[1])
def test_each_service_consumes_what_the_catalogue_says_once_each(module: object) -> None:
    subs = module.subscriptions(SETTINGS)  # type: ignore[attr-defined]
    assert sorted(s.event_type for s in subs) == sorted(CONSUMES[module])  # type: ignore[index]
    assert len({s.durable("svc") for s in subs}) == len(subs)


async def _closed(session: AsyncSession, event: PlanClosed, meta: Meta) -> list[Event]:
    return []


def test_a_handler_that_does_not_take_the_events_payload_is_refused_when_wired() -> None:
    assert [s.event_type for s in on(_closed, "plan.closed")] == ["plan.closed"]
    with pytest.raises(TypeError, match="PlanIssued"):
        Subscription("plan.issued", _closed)


ISSUER = UnitRef(code="21787", path="52.21787", name="Xã Vĩnh Sơn")


def _message(**changes: object) -> tuple[bytes, str]:
    payload = PlanClosed(plan_id=uuid.uuid4(), number="7/KH-UBND", issuer=ISSUER)
    envelope = make_event("plan.closed", unit_path="52.21787", producer="plans", payload=payload, at=datetime.now(UTC))
    envelope = envelope.model_copy(update=changes)
    return envelope.model_dump_json().encode(), subject("cchc", "plan.closed", "52.21787")


def test_a_message_is_decoded_into_the_payload_of_its_type() -> None:
    data, subj = _message()
    decoded = decode(data, subject_=subj, prefix="cchc")
    assert isinstance(decoded, Decoded)
    assert isinstance(decoded.event, PlanClosed) and decoded.event.issuer == ISSUER
    assert (decoded.meta.type, decoded.meta.unit, decoded.meta.producer) == ("plan.closed", "52.21787", "plans")


def test_a_message_that_can_never_be_handled_says_why() -> None:
    data, subj = _message()
    assert decode(b"{not json", subject_=subj, prefix="cchc").startswith("bad envelope")  # type: ignore[union-attr]
    assert "does not match" in str(decode(data, subject_="cchc.plan.closed.52.99999", prefix="cchc"))
    bad, _ = _message(payload={"plan_id": "nope", "unit": {"code": "21787", "path": "52.21787"}})
    assert str(decode(bad, subject_=subj, prefix="cchc")).startswith("bad plan.closed payload")
    unknown, _ = _message(type="plan.exploded")
    assert "unknown event type" in str(decode(unknown, subject_="cchc.plan.exploded.52.21787", prefix="cchc"))


def test_events_are_checked_against_their_contract_when_made() -> None:
    with pytest.raises(TypeError):
        Event(
            "plan.issued",
            unit_path="52",
            payload=PlanClosed(plan_id=uuid.uuid4(), number="", issuer=ISSUER),
            at=datetime.now(UTC),
        )
    event = Event(
        "plan.closed",
        unit_path="52",
        payload=PlanClosed(plan_id=uuid.uuid4(), number="", issuer=ISSUER),
        at=datetime.now(UTC),
    )
    envelope = event.envelope("plans")
    assert (envelope.producer, envelope.type, EVENT_TYPES[envelope.type]) == ("plans", "plan.closed", PlanClosed)
    assert PlanIssued is EVENT_TYPES["plan.issued"]


def _wanted(title: str, due: date) -> NewAssignment:
    return NewAssignment(
        id=uuid.UUID(int=1),
        task_ref="1",
        task_title=title,
        unit=ISSUER,
        role="lead",
        period=Period.parse("2026-Q1"),
        due=due,
    )


def test_an_amendment_changes_what_was_reworded_and_reschedules_what_moved() -> None:
    was = {uuid.UUID(int=1): Current(task_title="Tin bài", due=date(2026, 3, 31), plan_number="7/KH-UBND")}
    same = amendment([_wanted("Tin bài", date(2026, 3, 31))], was, number="7/KH-UBND")
    assert (same.changed, same.rescheduled) == ([], [])
    reworded = amendment([_wanted("Tin, bài", date(2026, 3, 31))], was, number="7/KH-UBND")
    assert (len(reworded.changed), reworded.rescheduled) == (1, [])
    moved = amendment([_wanted("Tin bài", date(2026, 3, 20))], was, number="7/KH-UBND")
    assert (len(moved.changed), len(moved.rescheduled)) == (1, 1)
    renumbered = amendment([_wanted("Tin bài", date(2026, 3, 31))], was, number="8/KH-UBND")
    assert len(renumbered.changed) == 1
    assert amendment([_wanted("Tin bài", date(2026, 3, 31))], {}, number="7/KH-UBND").changed == []  # a new one


def _report(assignment: int, minute: int, status: str = "done", **changes: object) -> ProgressReported:
    at = datetime(2026, 2, 10, 1, minute, tzinfo=UTC)
    fields: dict[str, object] = {
        "report_id": uuid.uuid4(),
        "assignment_id": uuid.UUID(int=assignment),
        "plan_id": uuid.UUID(int=99),
        "unit": ISSUER,
        "period": "2026-Q1",
        "due": date(2026, 3, 31),
        "status": status,
        "outputs": {"article": minute},
        "reported_at": at,
        "on_time": True,
        "done_at": at if status == "done" else None,
    }
    return ProgressReported.model_validate(fields | changes)


def test_a_batchs_reports_of_one_assignment_reduce_to_the_newest_between_the_first_and_last_times() -> None:
    late, first, newest, other = _report(1, 20), _report(1, 5, "in_progress"), _report(1, 40), _report(2, 1)
    rows = reports.newest_reports([late, first, newest, other])
    assert [row["assignment_id"] for row in rows] == [uuid.UUID(int=1), uuid.UUID(int=2)]  # in assignment order
    one = rows[0]
    assert (one["report_id"], one["outputs"], one["done_at"]) == (newest.report_id, {"article": 40}, newest.reported_at)
    assert (one["first_reported_at"], one["last_reported_at"]) == (first.reported_at, newest.reported_at)
    # as one by one: of two equally new reports the first to arrive stays
    twin = _report(1, 40, "cannot_do")
    assert reports.newest_reports([newest, twin])[0]["report_id"] == newest.report_id
    assert reports.newest_reports([twin, newest])[0]["report_id"] == twin.report_id


def test_a_batch_is_split_into_rounds_that_touch_each_assignment_once_in_arrival_order() -> None:
    a, b, c = (_report(1, 1), None), (_report(2, 2), None), (_report(1, 3), None)
    d = (_report(1, 4), None)
    split = reports.rounds([a, b, c, d], key=lambda event: event.assignment_id)  # type: ignore[list-item]
    assert split == [[a, b], [c], [d]]
    assert reports.rounds([], key=lambda event: event) == []


def test_the_reports_hot_subscriptions_apply_a_batch_at_once() -> None:
    many = {s.event_type: s.many for s in reports.subscriptions(SETTINGS)}
    hot = {t for t in many if t.startswith(("assignment.", "progress."))}
    assert hot == {
        "assignment.created",
        "assignment.updated",
        "assignment.cancelled",
        "progress.reported",
        "progress.corrected",
    }
    assert all(many[t] is not None for t in hot)
    assert many["plan.issued"] is None  # rare events stay one at a time, inside the batch's transaction
