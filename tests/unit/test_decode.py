"""What the bus reads of a consumed message before any handler sees it (shared/bus.decode): an
envelope of a schema version this code does not know is never applied as if it were the current
one — it is refused with a reason that names the version and the event type."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from shared.bus import Decoded, _decoded_at_once, checked, decode
from shared.events import SCHEMA_VERSION, AssignmentCreated, ProgressReported, UnitRef, make_event, subject

pytestmark = pytest.mark.unit

NOW = datetime(2026, 2, 10, 1, 0, tzinfo=UTC)
COMMUNE = UnitRef(code="21787", path="52.21787", name="Xã Vĩnh Sơn", level="commune")


def _assignment_wire(version: int | None) -> tuple[bytes, str]:
    """An assignment.created as tasks publishes it, its envelope claiming `version` (None: the
    field left out, as a producer from before versions were written would)."""
    payload = AssignmentCreated(
        assignment_id=uuid.uuid4(),
        plan_id=uuid.uuid4(),
        plan_number="7/KH-UBND",
        task_ref="2",
        task_title="Tuyên truyền trên Đài truyền thanh xã",
        unit=COMMUNE,
        role="lead",
        period="2026-Q1",
        due=date(2026, 3, 15),
    )
    envelope = json.loads(
        make_event(
            "assignment.created", unit_path=COMMUNE.path, producer="tasks", payload=payload, at=NOW
        ).model_dump_json()
    )
    if version is None:
        del envelope["version"]
    else:
        envelope["version"] = version
    return json.dumps(envelope).encode(), subject("cchc", "assignment.created", COMMUNE.path)


def test_an_envelope_of_the_current_schema_version_is_decoded() -> None:
    data, subj = _assignment_wire(SCHEMA_VERSION)
    decoded = decode(data, subject_=subj, prefix="cchc")
    assert isinstance(decoded, Decoded) and isinstance(decoded.event, AssignmentCreated)


def test_an_envelope_without_a_version_is_read_as_the_current_one() -> None:
    data, subj = _assignment_wire(None)
    assert isinstance(decode(data, subject_=subj, prefix="cchc"), Decoded)


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 6, 0, -1])
def test_an_envelope_of_a_schema_version_this_code_does_not_know_is_refused_with_its_version(version: int) -> None:
    data, subj = _assignment_wire(version)
    assert decode(data, subject_=subj, prefix="cchc") == f"unknown schema version {version} of assignment.created"


def _progress_wire(**changes: object) -> tuple[bytes, str]:
    """A progress.reported as tasks publishes it; `changes` replace envelope fields (`payload.x`:
    a payload field)."""
    payload = ProgressReported(
        report_id=uuid.uuid4(),
        assignment_id=uuid.uuid4(),
        plan_id=uuid.uuid4(),
        unit=COMMUNE,
        period="2026-Q1",
        due=date(2026, 3, 15),
        status="done",
        outputs={"broadcast": 3},
        reported_at=NOW,
        on_time=True,
        done_at=NOW,
    )
    envelope = json.loads(
        make_event(
            "progress.reported", unit_path=COMMUNE.path, producer="tasks", payload=payload, at=NOW
        ).model_dump_json()
    )
    for name, value in changes.items():
        where, key = (envelope["payload"], name[8:]) if name.startswith("payload.") else (envelope, name)
        where[key] = value
    return json.dumps(envelope).encode(), subject("cchc", "progress.reported", COMMUNE.path)


WIRES = {
    "as published": {},
    "a newer schema": {"version": SCHEMA_VERSION + 1},
    "another producer": {"producer": "notify"},
    "another type than its subject's": {"type": "progress.corrected"},
    "a type nobody knows": {"type": "progress.exploded"},
    "another unit than its subject's": {"unit": "52.21790"},
    "a payload unit elsewhere": {"payload.unit": {"code": "21790", "path": "52.21790"}},
    "a payload unit whose code is not its path's": {"payload.unit": {"code": "21790", "path": "52.21787"}},
    "a bad payload": {"payload.status": "finished"},
    "a payload without its unit": {"payload.unit": None},
    "a count as a string": {"payload.outputs": {"broadcast": "3"}},
    "fields nobody knows": {"payload.colour": "red", "colour": "blue"},
    "no actor": {"actor": None},
}


@pytest.mark.parametrize("case", list(WIRES))
def test_a_hot_event_decoded_in_one_pass_is_what_the_checks_step_by_step_make_of_it(case: str) -> None:
    """shared.bus decodes progress and assignment events in one pass (the envelope with its
    payload typed): whatever the message, the verdict — the event or the reason — is the one of
    `checked`, which validates the envelope, checks it, then validates the payload."""
    data, subj = _progress_wire(**WIRES[case])
    assert decode(data, subject_=subj, prefix="cchc") == checked(data, subject_=subj, prefix="cchc")
    assert decode(data, subject_="cchc.progress.reported.52.21790", prefix="cchc") == checked(
        data, subject_="cchc.progress.reported.52.21790", prefix="cchc"
    )


def test_the_one_pass_takes_the_events_published_as_they_should_be_and_leaves_the_rest_to_the_checks() -> None:
    data, subj = _progress_wire()
    at_once = _decoded_at_once(data, subject_=subj, prefix="cchc")
    assert isinstance(at_once, Decoded) and isinstance(at_once.event, ProgressReported)
    assert at_once.meta.type == "progress.reported" and at_once.event.unit == COMMUNE
    assignment, assignment_subject = _assignment_wire(SCHEMA_VERSION)
    assert isinstance(_decoded_at_once(assignment, subject_=assignment_subject, prefix="cchc"), Decoded)
    for case in ("a newer schema", "another producer", "another type than its subject's", "a bad payload"):
        wrong, subj = _progress_wire(**WIRES[case])
        assert _decoded_at_once(wrong, subject_=subj, prefix="cchc") is None, case
    assert _decoded_at_once(data, subject_="other.progress.reported.52.21787", prefix="cchc") is None
    assert _decoded_at_once(data, subject_="cchc.plan.closed.52.21787", prefix="cchc") is None  # not a hot type
