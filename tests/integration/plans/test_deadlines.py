"""Report deadlines: Decree 09/2019's rule by default, a plan's own rule, deadlines staggered by
level (a commune's report due days before the province's), dates in the task text untouched,
and an amendment of the rule moving due dates without losing what was reported."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.integration.conftest import System
from tests.integration.plans_data import QUARTERLY_PLAN

pytestmark = pytest.mark.integration

STAGGERED: dict[str, Any] = {
    **copy.deepcopy(QUARTERLY_PLAN),
    "number": "31/KH-UBND",
    "due_rules": {"cutoff_day": 20, "days_after_cutoff": 0, "earlier_by_level": {"commune": 10}},
    "tasks": [
        {
            "ref": "1",
            "title": "Báo cáo kết quả tuyên truyền CCHC hằng quý",
            "lead": ["children"],
            "timeline": "Định kỳ 01 lần/quý",
        },
        {"ref": "2", "title": "Tổng hợp báo cáo của các xã", "lead": ["52"], "timeline": "hằng quý"},
        {
            "ref": "3",
            "title": "Tổ chức hội thi tìm hiểu CCHC",
            "lead": ["children"],
            "timeline": "Trước ngày 30/11/2026",
        },
    ],
}


async def dues(system: System, unit: str, task: str) -> dict[str, str]:
    async def found() -> dict[str, str]:
        items = (await system.get("/api/assignments", params={"unit": unit})).json()["items"]
        return {i["period"]: i["due"] for i in items if i["task_ref"] == task}

    return await system.eventually(found)


async def test_a_plan_sets_its_own_cutoff_and_staggers_the_communes_before_the_province(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    created = await system.post("/api/plans", json=STAGGERED)
    assert created.status_code == 201, created.text
    assert created.json()["due_rules"]["earlier_by_level"] == {"commune": 10}
    plan_id = created.json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    # Cut-off on the 20th, due that day; communes 10 days earlier (20/06 is a Saturday → Monday).
    assert await dues(system, "21787", "1") == {
        "2026-Q1": "2026-03-10",
        "2026-Q2": "2026-06-10",
        "2026-Q3": "2026-09-10",
        "2026-Q4": "2026-12-10",
    }
    assert await dues(system, "52", "2") == {
        "2026-Q1": "2026-03-20",
        "2026-Q2": "2026-06-22",
        "2026-Q3": "2026-09-21",
        "2026-Q4": "2026-12-21",
    }
    assert await dues(system, "21787", "3") == {"2026-Q4": "2026-11-30"}  # the plan's own date stands

    # Reported on Q1, then the rule is amended: due dates move, the report stays.
    q1 = (await system.get("/api/assignments", params={"unit": "21787", "period": "2026-Q1"})).json()["items"]
    reported = next(a for a in q1 if a["task_ref"] == "1")
    response = await system.post(
        f"/api/assignments/{reported['id']}/progress",
        json={"period": "2026-Q1", "status": "done", "outputs": {"article": 2}},
    )
    assert response.status_code == 201
    amended = await system.post(
        f"/api/plans/{plan_id}/amend", json={**STAGGERED, "due_rules": {"earlier_by_level": {"commune": 3}}}
    )
    assert amended.status_code == 200, amended.text

    async def moved() -> dict[str, str] | None:
        found = await dues(system, "21787", "1")
        return found if found["2026-Q1"] == "2026-03-12" else None

    assert await system.eventually(moved) == {
        "2026-Q1": "2026-03-12",  # 14/03 + 1 − 3 days
        "2026-Q2": "2026-06-12",
        "2026-Q3": "2026-09-14",  # 12/09 is a Saturday
        "2026-Q4": "2026-12-14",  # 12/12 is a Saturday
    }
    detail = (await system.get(f"/api/assignments/{reported['id']}")).json()
    assert detail["id"] == reported["id"] and [h["outputs"] for h in detail["history"]] == [{"article": 2}]
    assert detail["status"] == "done_on_time"

    # A commune's implementing plan inherits the rule, so its bodies are staggered the same way.
    child = await system.post(f"/api/plans/{plan_id}/children", json={"unit": "21787"})
    assert child.status_code == 201, child.text
    assert child.json()["due_rules"] == {"cutoff_day": 14, "days_after_cutoff": 1, "earlier_by_level": {"commune": 3}}


async def test_without_a_rule_the_decree_applies_and_bad_rules_are_refused_by_field(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plain = {**STAGGERED, "number": "32/KH-UBND"}
    plain.pop("due_rules")
    plan_id = (await system.post("/api/plans", json=plain)).json()["id"]
    await system.post(f"/api/plans/{plan_id}/issue")
    assert (await dues(system, "21787", "1"))["2026-Q1"] == "2026-03-16"  # 15/03/2026 is a Sunday
    assert (await dues(system, "52", "2"))["2026-Q2"] == "2026-06-15"

    bad = [
        ({"cutoff_day": 31}, "due_rules.cutoff_day"),
        ({"days_after_cutoff": -1}, "due_rules.days_after_cutoff"),
        ({"earlier_by_level": {"thon": 3}}, "due_rules.earlier_by_level.thon"),
        ({"earlier_by_level": {"commune": 90}}, "due_rules.earlier_by_level.commune"),
        ({"cut_off": 10}, "due_rules.cut_off"),
    ]
    for rules, field in bad:
        refused = await system.post("/api/plans", json={**STAGGERED, "number": "33/KH-UBND", "due_rules": rules})
        assert refused.status_code == 422, (rules, refused.text)
        assert [p["field"] for p in refused.json()["detail"]][0].startswith(field), (rules, refused.json())
    listed = (await system.get("/api/plans", params={"issuer": "52"})).json()
    assert [p["number"] for p in listed["items"]] == ["32/KH-UBND"]
