"""The national data set the benchmarks share (bench/national.py): the directory it stands on,
its size, its determinism, and events the reports consumer would take — corrections after the
reports they correct, reported_at rising, envelopes the bus decodes."""

from __future__ import annotations

import json
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.bus import Decoded, decode
from shared.followup import on_time

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # bench scripts import as siblings
import national  # noqa: E402

pytestmark = pytest.mark.unit

PROVINCE = "52"  # Gia Lai, 135 communes


@pytest.fixture(scope="module")
def small() -> national.Dataset:
    return national.Dataset(events=3_000, provinces=(PROVINCE,))


@pytest.fixture(scope="module")
def events(small: national.Dataset) -> list[tuple[str, bytes, dict[str, str]]]:
    return list(small.envelopes("cchc"))


def test_the_whole_country_is_34_provinces_and_3321_communes() -> None:
    units = national.province_units()
    assert len(units) == 34
    assert sum(len(communes) for _, communes in units) == 3_321
    for province, communes in units:
        assert province.level == "province" and province.path == province.code
        assert all(c.path == f"{province.code}.{c.code}" and c.level == "commune" for c in communes)


def test_a_million_events_take_monthly_tasks_enough_for_them() -> None:
    data = national.Dataset(events=1_000_000)
    assignments = data.communes * national.MONTHS * data.tasks_per_plan
    assert assignments * national.per_assignment(data.corrections) >= 1_000_000
    assert (assignments - data.communes * national.MONTHS) * national.per_assignment(data.corrections) < 1_000_000


def test_sized_by_events_with_one_plan_a_province(small: national.Dataset, events: list) -> None:
    assert len(events) == 3_000
    assert [p.issuer.code for p in small.plans] == [PROVINCE]
    plan = small.plans[0]
    assignments = small.assignments(plan)
    assert len(assignments) == 135 * 12 * small.tasks_per_plan
    assert {a.period.kind for a in assignments} == {"month"}
    assert Counter(a.unit.code for a in assignments) == {c.code: 12 * small.tasks_per_plan for c in small.units[0][1]}


def test_the_same_parameters_give_the_same_bytes(events: list) -> None:
    again = list(national.Dataset(events=3_000, provinces=(PROVINCE,)).envelopes("cchc"))
    assert again == events
    other = list(national.Dataset(events=3_000, seed=7, provinces=(PROVINCE,)).envelopes("cchc"))
    assert other != events


def test_envelopes_are_what_the_bus_takes_from_the_tasks_service(events: list) -> None:
    for subject, body, headers in events:
        decoded = decode(body, subject_=subject, prefix="cchc")
        assert isinstance(decoded, Decoded), decoded
        assert headers["Nats-Msg-Id"] == str(decoded.meta.id)
        assert decoded.meta.producer == "tasks"
        assert subject == f"cchc.{decoded.meta.type}.{decoded.event.unit.path}"
    assert len({h["Nats-Msg-Id"] for _, _, h in events}) == len(events)


def test_corrections_follow_the_report_they_correct(small: national.Dataset, events: list) -> None:
    known = {a.id: a for plan in small.plans for a in small.assignments(plan)}
    seen: dict[str, list[dict]] = {}
    last = datetime.min.replace(tzinfo=UTC)
    for _, body, _ in events:
        envelope = json.loads(body)
        payload = envelope["payload"]
        at = payload["reported_at"]
        assert datetime.fromisoformat(at) > last, "reported_at rises strictly"
        last = datetime.fromisoformat(at)
        history = seen.setdefault(payload["assignment_id"], [])
        assert envelope["type"] == ("progress.corrected" if history else "progress.reported")
        a = known[uuid.UUID(payload["assignment_id"])]
        assert (payload["period"], payload["due"], payload["plan_id"]) == (
            a.period.code,
            a.due.isoformat(),
            str(small.plans[0].plan_id),
        )
        previous = history[-1] if history else None
        if payload["status"] == "done":  # done since the first of an unbroken run of "done"
            expected = previous["done_at"] if previous and previous["status"] == "done" else at
            assert payload["done_at"] == expected
        else:
            assert payload["done_at"] is None
        history.append(payload)
    corrected = sum(len(h) > 1 for h in seen.values())
    assert 0.15 < corrected / len(seen) < 0.35  # a quarter of the reports are corrected


def test_the_summary_is_the_read_model_the_events_leave(small: national.Dataset) -> None:
    summary = national.Summary()
    newest: dict[str, object] = {}
    for _, payload in small.reports(summary):
        newest[str(payload.assignment_id)] = payload  # the stream is in reported_at order
        assert payload.on_time == on_time(payload.reported_at, payload.due)
    assert summary.events == 3_000
    assert summary.reported == len(newest)
    assert summary.statuses == Counter(p.status for p in newest.values())  # type: ignore[attr-defined]
    outputs: Counter[str] = Counter()
    for p in newest.values():
        outputs.update(p.outputs)  # type: ignore[attr-defined]
    assert +summary.outputs == outputs


def test_plans_and_assignments_are_what_the_bus_takes_from_their_owners(small: national.Dataset) -> None:
    plans = list(small.plan_envelopes("cchc"))
    assignments = list(small.assignment_envelopes("cchc"))
    assert len(plans) == 1 and len(assignments) == 135 * 12 * small.tasks_per_plan
    for subject, body, headers in plans + assignments:
        decoded = decode(body, subject_=subject, prefix="cchc")
        assert isinstance(decoded, Decoded), decoded
        assert headers["Nats-Msg-Id"] == str(decoded.meta.id)
    reported = {json.loads(body)["payload"]["assignment_id"] for _, body, _ in small.envelopes("cchc")}
    created = {json.loads(body)["payload"]["assignment_id"] for _, body, _ in assignments}
    assert reported <= created  # every report is on an assignment the data set created
