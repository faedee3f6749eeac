"""What the bus reads of a consumed message before any handler sees it (shared/bus.decode): an
envelope of a schema version this code does not know is never applied as if it were the current
one — it is refused with a reason that names the version and the event type."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from shared.bus import Decoded, decode
from shared.events import SCHEMA_VERSION, AssignmentCreated, UnitRef, make_event, subject

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
