"""What a consumer checks of an event's origin before it trusts it (shared/provenance.py, applied
by shared/bus.decode): the producer owns the family, what the payload says of units agrees with
the subject, and versions follow what is held one by one — so forged huge versions, issuers,
leads and parents are refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from shared.bus import Decoded, decode
from shared.events import (
    PlanAmended,
    PlanIssued,
    PlanTask,
    ReportReviewed,
    ReportSubmitted,
    TaskChanges,
    UnitCreated,
    UnitRef,
    UnitSucceeded,
    make_event,
    subject,
)
from shared.provenance import Succession, payload_problem, producer_problem, succession
from shared.timelines import parse_timeline

pytestmark = pytest.mark.unit

NOW = datetime(2026, 2, 10, 1, 0, tzinfo=UTC)
PROVINCE = UnitRef(code="52", path="52", name="UBND tỉnh Gia Lai", level="province")
COMMUNE = UnitRef(code="21787", path="52.21787", name="Xã Vĩnh Sơn", level="commune")
OTHER_PROVINCE_COMMUNE = UnitRef(code="20000", path="48.20000", name="Xã khác", level="commune")


def _task(*lead: UnitRef, coordinating: tuple[UnitRef, ...] = ()) -> PlanTask:
    return PlanTask(
        ref="1",
        title="Tuyên truyền",
        lead=list(lead),
        coordinating=list(coordinating),
        schedule=parse_timeline("Định kỳ 01 lần/quý"),
    )


def _issued(*, version: int = 1, issuer: UnitRef = PROVINCE, tasks: list[PlanTask] | None = None) -> PlanIssued:
    return PlanIssued(
        plan_id=uuid.uuid4(),
        number="12/KH-UBND",
        title="Kế hoạch",
        issuer=issuer,
        period="2026",
        tasks=tasks if tasks is not None else [_task(COMMUNE)],
        version=version,
    )


def _reviewed(*, unit: UnitRef = COMMUNE, reviewer: UnitRef = PROVINCE) -> ReportReviewed:
    return ReportReviewed(
        report_id=uuid.uuid4(), unit=unit, period="2026-Q1", version=1, reviewer=reviewer, decided_at=NOW
    )


def _wire(event_type: str, payload: BaseModel, unit_path: str, producer: str) -> tuple[bytes, str]:
    envelope = make_event(event_type, unit_path=unit_path, producer=producer, payload=payload, at=NOW)
    return envelope.model_dump_json().encode(), subject("cchc", event_type, unit_path)


# --- producers ------------------------------------------------------------------------------


def test_only_the_owning_service_may_produce_an_event_family() -> None:
    assert producer_problem("report.accepted", "reports") is None
    assert producer_problem("plan.issued", "plans") is None
    assert producer_problem("unit.created", "plans") is None
    assert producer_problem("progress.reported", "tasks") is None
    assert "only reports" in str(producer_problem("report.accepted", "tasks"))
    assert "only plans" in str(producer_problem("plan.issued", "reports"))
    assert "only tasks" in str(producer_problem("assignment.created", "test"))


def test_an_event_from_a_producer_that_does_not_own_its_family_is_never_decoded() -> None:
    data, subj = _wire("report.accepted", _reviewed(), COMMUNE.path, producer="notify")
    assert "only reports publishes report.*" in str(decode(data, subject_=subj, prefix="cchc"))
    data, subj = _wire("report.accepted", _reviewed(), COMMUNE.path, producer="reports")
    assert isinstance(decode(data, subject_=subj, prefix="cchc"), Decoded)


# --- units against the subject ----------------------------------------------------------------


def test_a_plan_issued_with_a_version_other_than_one_is_refused() -> None:
    assert payload_problem(_issued(), "52") is None
    assert "issued as version 1" in str(payload_problem(_issued(version=999_999), "52"))


def test_an_amendment_numbered_below_two_is_refused() -> None:
    plan = _issued()
    amended = PlanAmended(**plan.model_dump(exclude={"parent_plan_id", "version"}), version=1, changes=TaskChanges())
    assert "start at version 2" in str(payload_problem(amended, "52"))
    assert payload_problem(amended.model_copy(update={"version": 2}), "52") is None


def test_a_plan_whose_issuer_is_not_the_subjects_unit_is_refused() -> None:
    assert "not the subject's unit 52" in str(payload_problem(_issued(issuer=COMMUNE), "52"))
    forged = UnitRef(code="52", path="52.21787")  # a code that is not the unit at the path
    assert "is not the unit at 52.21787" in str(payload_problem(_issued(issuer=forged), "52.21787"))


def test_a_plan_whose_leads_or_coordinating_units_lie_outside_the_issuer_is_refused() -> None:
    far = _issued(tasks=[_task(OTHER_PROVINCE_COMMUNE)])
    assert "lead 48.20000 is not under the issuer 52" in str(payload_problem(far, "52"))
    beside = _issued(tasks=[_task(COMMUNE, coordinating=(UnitRef(code="521", path="521"),))])
    assert "coordinating 521 is not under the issuer 52" in str(payload_problem(beside, "52"))
    commune_plan = _issued(issuer=COMMUNE, tasks=[_task(PROVINCE)])  # a commune cannot task its province
    assert "lead 52 is not under the issuer 52.21787" in str(payload_problem(commune_plan, "52.21787"))


def test_a_unit_event_must_describe_the_unit_of_its_subject_in_its_place() -> None:
    unit = UnitCreated(code="21787", name="Xã Vĩnh Sơn", level="commune", parent="52", path="52.21787")
    assert payload_problem(unit, "52.21787") is None
    assert "not the subject's unit 52.21583.21787" in str(payload_problem(unit, "52.21583.21787"))
    moved_parent = unit.model_copy(update={"parent": "21583"})
    assert "parent '21583' is not the unit above 52.21787" in str(payload_problem(moved_parent, "52.21787"))
    other_code = unit.model_copy(update={"code": "21583"})
    assert "code '21583' is not the unit at 52.21787" in str(payload_problem(other_code, "52.21787"))
    province = UnitCreated(code="52", name="Gia Lai", level="province", parent=None, path="52")
    assert payload_problem(province, "52") is None
    assert payload_problem(province.model_copy(update={"parent": "48"}), "52") is not None


def test_a_succession_is_about_the_unit_of_its_subject() -> None:
    link = UnitSucceeded(old="21787", new="21790", new_path="52.21790")
    assert payload_problem(link, "52.21787") is None
    assert "succeeded unit '21787'" in str(payload_problem(link, "52.21583"))
    assert "successor code" in str(payload_problem(link.model_copy(update={"new_path": "52.21583"}), "52.21787"))


def test_a_report_goes_to_and_is_decided_by_the_unit_directly_above() -> None:
    assert payload_problem(_reviewed(), "52.21787") is None
    sibling = UnitRef(code="21583", path="52.21583")
    assert "reviewer 52.21583 is not the unit directly above 52.21787" in str(
        payload_problem(_reviewed(reviewer=sibling), "52.21787")
    )
    submitted = ReportSubmitted(
        report_id=uuid.uuid4(), unit=COMMUNE, period="2026-Q1", version=1, parent=sibling, submitted_at=NOW
    )
    assert "parent 52.21583 is not the unit directly above" in str(payload_problem(submitted, "52.21787"))


def test_a_unit_ref_whose_code_is_not_its_paths_last_segment_is_refused() -> None:
    # a decision on 52.21787 that names the province's code would lock the whole province
    forged = _reviewed(unit=UnitRef(code="52", path="52.21787"))
    assert "unit code '52' is not the unit at 52.21787" in str(payload_problem(forged, "52.21787"))
    data, subj = _wire("report.accepted", forged, "52.21787", producer="reports")
    assert "is not the unit at 52.21787" in str(decode(data, subject_=subj, prefix="cchc"))


# --- versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "held", "expected"),
    [
        (1, None, Succession.NEXT),  # the first version of something new
        (1, 0, Succession.NEXT),  # a plan known only as closed
        (3, 2, Succession.NEXT),
        (2, 2, Succession.SEEN),  # a redelivery
        (1, 3, Succession.SEEN),  # an old version arriving late
        (2, None, Succession.EARLY),  # an amendment before its plan was issued here
        (5, 2, Succession.EARLY),  # the versions between have not arrived
        (999_999, 1, Succession.EARLY),  # forged: waits for versions no one publishes
    ],
)
def test_versions_are_taken_one_by_one(version: int, held: int | None, expected: Succession) -> None:
    assert succession(version, held=held) is expected
