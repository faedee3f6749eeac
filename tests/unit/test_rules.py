"""Pure rules of the services: plan checks, assignment fan-out, follow-up status, routing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from cchc.routes import service_for_path
from services.plans.domain import CheckedPlan, Directory, PlanIn, Unit, check_plan
from services.reports.queries import figures
from services.tasks.domain import assignments_for
from shared.events import PlanIssued, UnitCreated, UnitRef, make_event, subject
from shared.followup import state
from shared.units import ancestors

pytestmark = pytest.mark.unit

PROVINCE = Unit("52", "Tỉnh Gia Lai", "province", None, "52")
COMMUNES = [Unit(c, f"Xã {c}", "commune", "52", f"52.{c}") for c in ("21787", "21790")]
OTHER = Unit("48", "Thành phố Đà Nẵng", "province", None, "48")
UNITS = {u.code: u for u in (PROVINCE, *COMMUNES, OTHER)}
BODIES = [
    Unit("52-NV", "Sở Nội vụ", "body", "52", "52.52-NV"),
    Unit("52-VHTT", "Sở Văn hóa, Thể thao và Du lịch", "body", "52", "52.52-VHTT"),
]
DIRECTORY = Directory(units=UNITS, children=COMMUNES, bodies=BODIES)


def plan(**task: object) -> PlanIn:
    base = {"ref": "1", "title": "Tin bài", "lead": ["children"], "timeline": "hằng quý"}
    return PlanIn(number="1/KH-UBND", title="KH", issuer="52", period="2026", tasks=[{**base, **task}])


def test_children_expands_to_every_direct_child_of_the_issuer() -> None:
    for lead in (["children"], ["UBND các xã, phường"], ["Ủy ban nhân dân các xã"]):
        checked = check_plan(plan(lead=lead), directory=DIRECTORY)
        assert isinstance(checked, CheckedPlan)
        assert [u.code for u in checked.tasks[0].task.lead] == ["21787", "21790"]
        assert checked.uses_children == {"21787", "21790"}


def test_leads_resolve_by_code_or_by_name_without_diacritics_and_coordinators_may_stay_text() -> None:
    checked = check_plan(
        plan(lead=["so noi vu", "52-VHTT"], coordinating=["Các cơ quan, đơn vị liên quan"]), directory=DIRECTORY
    )
    assert isinstance(checked, CheckedPlan)
    assert [u.code for u in checked.tasks[0].task.lead] == ["52-NV", "52-VHTT"]
    assert checked.tasks[0].task.coordinating == []
    assert checked.tasks[0].lead_text == ["so noi vu", "52-VHTT"]


def test_a_group_heading_needs_no_lead_or_timeline_but_a_task_does() -> None:
    group = PlanIn(
        number="",
        title="KH",
        issuer="52",
        period="2026",
        tasks=[
            {"ref": "4", "title": "Gửi tin, bài", "group": True},
            {"ref": "4.1", "title": "Về cải cách thể chế", "lead": ["52-NV"], "timeline": "Định kỳ 01 lần/quý"},
            {"ref": "5", "title": "Pano"},
        ],
    )
    problems = check_plan(group, directory=DIRECTORY)
    assert isinstance(problems, list)
    assert [p.field for p in problems] == ["tasks[2].timeline", "tasks[2].lead"]


def test_every_problem_is_reported_with_its_field() -> None:
    problems = check_plan(
        plan(lead=["48", "00000"], timeline="sớm", products=[{"kind": "bài hát", "target": 1}], area="sports"),
        directory=DIRECTORY,
    )
    assert isinstance(problems, list)
    assert [p.field for p in problems] == [
        "tasks[0].area",
        "tasks[0].products[0].kind",
        "tasks[0].timeline",
        "tasks[0].lead[0]",
        "tasks[0].lead[1]",
    ]


def test_issuing_fans_out_one_assignment_per_lead_unit_and_occurrence_with_stable_ids() -> None:
    issued = PlanIssued(
        plan_id=uuid.uuid4(),
        number="1",
        title="KH",
        issuer=UnitRef(code="52", path="52"),
        period="2026",
        tasks=[
            {
                "ref": "1",
                "title": "Tin bài",
                "lead": [u.ref() for u in COMMUNES],
                "schedule": {"kind": "periodic", "every": "quarter"},
            }
        ],
    )
    first = assignments_for(plan_id=issued.plan_id, period=issued.period, tasks=issued.tasks)
    again = assignments_for(plan_id=issued.plan_id, period=issued.period, tasks=issued.tasks)
    assert len(first) == 8
    assert [a.id for a in first] == [a.id for a in again]


@pytest.mark.parametrize(
    ("done_at", "today", "status"),
    [
        (datetime(2026, 3, 14, 16, 0, tzinfo=UTC), date(2026, 4, 1), "done_on_time"),  # 23:00 on 14/03 in Vietnam
        (datetime(2026, 3, 15, 17, 30, tzinfo=UTC), date(2026, 4, 1), "done_late"),  # 00:30 on 16/03 in Vietnam
        (None, date(2026, 3, 16), "overdue"),
        (None, date(2026, 3, 15), "in_progress"),
        (None, date(2025, 12, 1), "not_due"),
    ],
)
def test_follow_up_status_counts_days_in_vietnam_time(done_at: datetime | None, today: date, status: str) -> None:
    assert state(due=date(2026, 3, 15), period_start=date(2026, 1, 1), done_at=done_at, today=today) == status


def test_rates_are_recomputed_from_counts() -> None:
    states = dict.fromkeys(("done_on_time", "done_late", "in_progress", "overdue", "not_due"), 0)
    row = SimpleNamespace(expected=135, reported=27, on_time=20, **states)
    assert (figures(row)["completeness"], figures(row)["timeliness"]) == (0.2, 0.1481)
    none = figures(SimpleNamespace(expected=0, reported=0, on_time=0, **states))
    assert (none["completeness"], none["timeliness"]) == (None, None)
    assert ancestors("52.21787") == ["52", "21787"]


def test_subjects_carry_the_event_type_and_the_unit_path() -> None:
    event = make_event(
        "unit.created",
        unit_path="52.21787",
        producer="plans",
        at=datetime.now(UTC),
        payload=UnitCreated(code="21787", name="Xã Vĩnh Sơn", level="commune", parent="52", path="52.21787"),
    )
    assert subject("cchc", event.type, event.unit) == "cchc.unit.created.52.21787"


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/units", "plans"),
        ("/api/plans/1/issue", "plans"),
        ("/api/assignments?unit=1", "tasks"),
        ("/api/notifications", "notify"),
        ("/api/reports/rollup", "reports"),
    ],
)
def test_each_public_path_is_owned_by_one_service(path: str, service: str) -> None:
    assert service_for_path(path) == service


def test_legacy_codes_keep_their_padding_so_province_district_and_ward_never_collide() -> None:
    from services.plans.directory import legacy_units

    units, _ = legacy_units("01")
    by_code = {u.code: u for u in units}
    assert (by_code["L01"].level, by_code["L001"].level, by_code["L00001"].level) == ("province", "district", "commune")
    assert by_code["L00001"].path == "L01.L001.L00001"
    assert len(by_code) == len(units)


def test_successors_are_matched_with_diacritics_so_similar_names_stay_apart() -> None:
    from services.plans.directory import legacy_units, official_units

    units, successions = legacy_units("19")
    names = {u.code: u.name for u in official_units("19")}
    targets = {names[s.new] for s in successions if s.new in names}
    assert {"Xã Văn Lang", "Xã Văn Lăng"} <= targets


def test_a_body_inside_a_merged_commune_rolls_up_to_the_new_commune() -> None:
    from services.reports.domain import rollup_to

    paths = {
        "L22003": "L52.L551.L22003",
        "L22003-VHXH": "L52.L551.L22003.L22003-VHXH",
        "22003": "52.22003",
        "L551": "L52.L551",
        "L52": "L52",
        "52": "52",
    }
    successor = {"L22003": "22003", "L551": "52", "L52": "52"}
    assert set(rollup_to("L22003-VHXH", paths=paths, successor=successor)) >= {"22003", "52", "L551"}
