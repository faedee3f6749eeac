"""Plans service on real NATS and PostgreSQL: the unit directory across the 2025 reform,
plans as officials write them, amendments that keep progress, the cascade to 135 communes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.fixtures.plans import COMMUNE_2025_POSTS, COMMUNE_2026, DISTRICT_2025, DISTRICT_BODIES_2025, POSTS_2025
from tests.integration.conftest import System, head
from tests.integration.plans_data import QUARTERLY_PLAN

pytestmark = pytest.mark.integration


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def rollup(system: System, unit: str, period: str, **params: str) -> dict:
    response = await system.get("/api/reports/rollup", params={"unit": unit, "period": period, **params})
    return response.json() if response.status_code == 200 else {}


async def report(system: System, unit: str, period: str, outputs: dict[str, int]) -> None:
    async def found() -> list:
        return (await system.get("/api/assignments", params={"unit": unit, "period": period})).json()["items"]

    assignment = (await system.eventually(found))[0]
    await ok(
        await system.post(
            f"/api/assignments/{assignment['id']}/progress",
            json={"period": period, "status": "done", "outputs": outputs},
        ),
        201,
    )


async def test_the_legacy_structure_loads_with_successors_and_bodies_resolve_by_any_spelling(system: System) -> None:
    loaded = await ok(await system.post("/api/units/load", json={"source": "vietnamadminunits", "provinces": ["52"]}))
    assert loaded["successions"] > 300
    old = await ok(await system.get("/api/units/L22003"))
    assert (old["name"], old["level"], old["valid_to"]) == ("Xã Canh Vinh", "commune", "2025-06-30")
    assert old["successors"] == [{"code": "22003", "default": True}]
    assert (await ok(await system.get("/api/units/L551")))["level"] == "district"

    standard = await ok(await system.post("/api/units/22003/bodies/standard"), 201)
    assert len(standard["created"]) == 7
    again = await ok(await system.post("/api/units/22003/bodies/standard"), 201)
    assert again["created"] == []  # one call, idempotent
    for spelling in ("phòng VHXH", "Phong Van hoa - Xa hoi", "P. Văn hoá – Xã hội"):
        found = await ok(await system.get("/api/units/resolve", params={"within": "22003", "name": spelling}))
        assert found["code"] == "22003-VHXH"
    assert (await ok(await system.get("/api/units/resolve", params={"within": "22003", "name": "TTPVHCC"})))[
        "name"
    ] == "Trung tâm Phục vụ hành chính công"
    clash = await system.post("/api/units/22003/bodies", json={"name": "Phòng văn hoá xã hội"})
    assert clash.status_code == 409
    renamed = await system.patch("/api/units/22003-KT", json={"name": "Phòng Kinh tế - Hạ tầng"})
    assert renamed.status_code == 200

    async def renamed_in_reports() -> bool:
        async with system.services["reports"].sessions() as session:
            from sqlalchemy import select

            from services.reports.models import units

            row = (await session.execute(select(units.c.name).where(units.c.code == "22003-KT"))).first()
            return bool(row and row.name == "Phòng Kinh tế - Hạ tầng")

    await system.eventually(renamed_in_reports)


async def _bodies(system: System, unit: str, names: list[str]) -> None:
    for name in names:
        await ok(await system.post(f"/api/units/{unit}/bodies", json={"name": name}), 201)


async def test_the_three_real_plan_shapes_are_entered_with_their_structure(system: System) -> None:
    await ok(
        await system.post("/api/units/load", json={"source": "vietnamadminunits", "provinces": ["52", "44", "31"]})
    )
    await system.post("/api/units/22003/bodies/standard")
    await system.post("/api/units/L464/bodies/standard")
    await _bodies(system, "L464", DISTRICT_BODIES_2025)
    await _bodies(system, "L11269", POSTS_2025)

    commune = await ok(await system.post("/api/plans", json=COMMUNE_2026), 201)
    assert [t["ref"] for t in commune["tasks"]] == ["1", "2", "3", "4", "4.1", "4.2", "4.3", "4.4", "5", "6", "7"]
    group = commune["tasks"][3]
    assert (group["group"], group["timeline"]) == (True, None)
    assert commune["tasks"][0]["lead"] == ["22003-VHXH", "22003-TTDVC"]
    assert commune["tasks"][5]["lead"] == ["22003-TTPVHCC"]
    assert (
        commune["tasks"][5]["timeline"]["kind"] == "periodic" and commune["tasks"][5]["timeline"]["every"] == "quarter"
    )
    assert commune["duties"][0]["reporting"][0]["every"] == "quarter"
    assert commune["signer"]["name"] == "Nguyễn Văn Minh" and commune["parent"]["number"] == "101/KH-UBND"

    posts = await ok(await system.post("/api/plans", json=COMMUNE_2025_POSTS), 201)
    assert posts["tasks"][1]["lead"] == ["L11269-CCVHXH"]
    assert posts["tasks"][3]["timeline"]["cycle"] == ["Q1", "H1", "Q3", "Y"]

    district = await ok(await system.post("/api/plans", json=DISTRICT_2025), 201)
    communes_2025 = (await ok(await system.get("/api/units", params={"parent": "L464", "level": "commune"})))["items"]
    assert len(communes_2025) == 18
    assert len(district["tasks"][1]["lead"]) == 1 + 18  # the culture centre and every commune
    assert district["tasks"][4]["timeline"] == {
        "kind": "deadline",
        "date": "2025-11-30",
        "year": 2025,
        "every": None,
        "cycle": None,
        "quarter": None,
        "month": None,
        "text": "Trước ngày 30/11/2025",
    }

    await system.settled()  # the tasks service knows every unit of the three provinces before the issue
    for plan in (commune, posts, district):
        await ok(await system.post(f"/api/plans/{plan['id']}/issue"))

    async def district_fanned_out() -> bool:
        # task 2 and 4 (ongoing: Q1–Q4) for 19 and 19 leads, 1 and 3 once, 5 (deadline) for 20
        return (await rollup(system, "L464", "2025")).get("expected") == 4 * 19 + 4 * 19 + 1 + 1 + 20

    await system.eventually(district_fanned_out)  # three provinces of units to digest first
    found = (await ok(await system.get("/api/plans", params={"within": "L45", "q": "tap huan"})))["items"]
    assert [p["id"] for p in found] == [district["id"]]


async def test_a_legacy_commune_and_its_successor_roll_up_to_the_same_new_commune(system: System) -> None:
    await ok(await system.post("/api/units/load", json={"source": "vietnamadminunits", "provinces": ["52"]}))
    await ok(await system.post("/api/units/L22003/bodies", json={"name": "CC VHXH"}), 201)
    old_plan = {  # the old commune's plan, led by one of its posts
        **QUARTERLY_PLAN,
        "number": "05/KH-UBND",
        "issuer": "L22003",
        "period": "2025-H1",
        "tasks": [{**QUARTERLY_PLAN["tasks"][0], "lead": ["cc vhxh"]}],
    }
    new_plan = {
        **QUARTERLY_PLAN,
        "number": "09/KH-UBND",
        "issuer": "22003",
        "period": "2026",
        "tasks": [{**QUARTERLY_PLAN["tasks"][0], "lead": ["22003"]}],
    }
    for plan in (old_plan, new_plan):
        created = await ok(await system.post("/api/plans", json=plan), 201)
        await ok(await system.post(f"/api/plans/{created['id']}/issue"))
    await report(system, "L22003-CCVHXH", "2025-Q1", {"article": 3})
    await report(system, "22003", "2026-Q1", {"article": 5})

    async def both_counted() -> bool:
        old, new = await rollup(system, "22003", "2025"), await rollup(system, "22003", "2026")
        return old.get("reported") == 1 and new.get("reported") == 1

    await system.eventually(both_counted)  # a province of legacy units to digest first
    restated = await rollup(system, "22003", "2025")
    assert (restated["expected"], restated["outputs"]) == (2, {"article": 3})
    assert (await rollup(system, "22003", "2026"))["outputs"] == {"article": 5}
    assert (await rollup(system, "52", "2025"))["outputs"] == {"article": 3}  # the new province, restated
    as_reported = await rollup(system, "22003", "2025", view="as_reported")
    assert as_reported["expected"] == 0
    assert (await rollup(system, "L551", "2025", view="as_reported"))["outputs"] == {"article": 3}

    # the new commune's own people see its history too: the old commune's work is theirs now
    path = (await ok(await system.get("/api/units/22003")))["path"]
    own = await system.as_(head(path)).get("/api/reports/rollup", params={"unit": "22003", "period": "2025"})
    assert own.status_code == 200, own.text
    assert (own.json()["expected"], own.json()["outputs"]) == (2, {"article": 3})


async def test_a_province_plan_cascades_to_its_135_communes_and_the_tree_shows_who_has_not_issued(
    system: System,
) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    province = await ok(await system.post("/api/plans", json={**QUARTERLY_PLAN, "implementing_due": "2026-02-28"}), 201)
    await ok(await system.post(f"/api/plans/{province['id']}/issue"))
    tree = await ok(await system.get(f"/api/plans/{province['id']}/tree"))
    assert tree["obligations"] == {"expected": 135, "issued": 0}
    assert len(tree["not_issued"]) == 135 and tree["not_issued"][0]["due"] == "2026-02-28"

    for commune in ("21787", "22003"):
        child = await ok(await system.post(f"/api/plans/{province['id']}/children", json={"unit": commune}), 201)
        assert child["parent_plan"] == province["id"] and child["tasks"][0]["lead"] == [commune]
        assert child["status"] == "draft"
        await ok(await system.post(f"/api/plans/{child['id']}/issue"))
    tree = await ok(await system.get(f"/api/plans/{province['id']}/tree"))
    assert tree["obligations"] == {"expected": 135, "issued": 2}
    assert {n["unit"] for n in tree["not_issued"]}.isdisjoint({"21787", "22003"})
    assert sorted(c["issuer"] for c in tree["children"]) == ["21787", "22003"]


async def test_amending_an_issued_plan_keeps_reported_progress(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan = copy.deepcopy(QUARTERLY_PLAN)
    plan["tasks"] = [
        {**plan["tasks"][0], "lead": ["21787", "21583"]},
        {**plan["tasks"][0], "ref": "2", "title": "Phát thanh chuyên mục CCHC", "lead": ["21787"]},
    ]
    created = await ok(await system.post("/api/plans", json=plan), 201)
    await ok(await system.post(f"/api/plans/{created['id']}/issue"))
    await report(system, "21787", "2026-Q1", {"article": 4})

    async def reported() -> bool:
        return (await rollup(system, "21787", "2026-Q1")).get("reported") == 1

    await system.eventually(reported)
    amended = copy.deepcopy(plan)
    amended["tasks"] = [
        {**plan["tasks"][1], "title": "Phát thanh chuyên mục cải cách hành chính"},
        {**plan["tasks"][0], "ref": "3", "title": "Hội nghị đối thoại", "lead": ["21583"]},
    ]
    result = await ok(await system.post(f"/api/plans/{created['id']}/amend", json=amended))
    assert result["version"] == 2 and result["status"] == "amended"
    assert result["changes"] == {"added": ["3"], "removed": ["1"], "changed": ["2"]}

    async def settled() -> dict | None:
        body = await rollup(system, "52", "2026-Q1")
        # task 1 dropped: its reported Q1 assignment stays, the unreported one is cancelled;
        # task 2 (reworded) and the new task 3 count
        return body if body.get("expected") == 3 else None

    body = await system.eventually(settled)
    assert (body["reported"], body["outputs"]) == (1, {"article": 4})
    versions = await ok(await system.get(f"/api/plans/{created['id']}/versions"))
    assert [v["version"] for v in versions["items"]] == [1]

    async def reworded() -> dict | None:
        items = (await system.get("/api/assignments", params={"unit": "21787"})).json()["items"]
        titles = {a["task_ref"]: a["task_title"] for a in items}
        return titles if titles.get("2") == "Phát thanh chuyên mục cải cách hành chính" else None

    titles = await system.eventually(reworded)
    assert "1" in titles  # the reported Q1 assignment of the dropped task stays


async def test_bad_plans_are_refused_naming_the_problem_and_nothing_is_half_stored(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52", "48"]})
    first = await ok(await system.post("/api/plans", json=QUARTERLY_PLAN), 201)
    cases = [
        ({"issuer": "99"}, 422, "issuer"),
        ({"tasks": [{**QUARTERLY_PLAN["tasks"][0], "lead": ["20242"]}]}, 422, "tasks[0].lead[0]"),  # a Đà Nẵng commune
        ({"tasks": [{**QUARTERLY_PLAN["tasks"][0], "timeline": "lúc nào tiện"}]}, 422, "tasks[0].timeline"),
        ({"parent_plan": "00000000-0000-0000-0000-000000000000"}, 422, "parent_plan"),
    ]
    for change, status, field in cases:
        refused = await system.post("/api/plans", json={**QUARTERLY_PLAN, "number": "", **change})
        assert refused.status_code == status, (change, refused.text)
        assert field in {p["field"] for p in refused.json()["detail"]}
    duplicate = await system.post("/api/plans", json=QUARTERLY_PLAN)
    assert duplicate.status_code == 422 and duplicate.json()["detail"][0]["field"] == "number"

    child = await ok(
        await system.post(
            "/api/plans", json={**QUARTERLY_PLAN, "number": "", "issuer": "52", "parent_plan": first["id"]}
        ),
        201,
    )
    cycle = await system.put(f"/api/plans/{first['id']}", json={**QUARTERLY_PLAN, "parent_plan": child["id"]})
    assert cycle.status_code == 422 and cycle.json()["detail"][0]["field"] == "parent_plan"

    await ok(await system.post(f"/api/plans/{first['id']}/issue"))
    edit = await system.put(f"/api/plans/{first['id']}", json={**QUARTERLY_PLAN, "title": "Sửa sau khi ban hành"})
    assert edit.status_code == 409
    assert (await system.post(f"/api/plans/{first['id']}/issue")).status_code == 409
    listed = (await ok(await system.get("/api/plans", params={"issuer": "52"})))["items"]
    assert sorted(p["status"] for p in listed) == ["draft", "issued"]
    issued_on = {p["status"]: p["issued_on"] for p in listed}  # the list shows the day each was issued
    stored = await ok(await system.get(f"/api/plans/{first['id']}"))
    assert issued_on["draft"] is None and issued_on["issued"] == stored["issued_on"] is not None
    assert (await ok(await system.get(f"/api/plans/{first['id']}")))["title"] == QUARTERLY_PLAN["title"]


async def test_a_merge_ends_the_old_units_and_their_history_rolls_up_to_the_new_one(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    bad = await system.post("/api/units/merge", json={"old": ["21787", "99999"], "into": "21583", "on": "2027-01-01"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "old[1]"
    assert (await ok(await system.get("/api/units/21787")))["valid_to"] is None  # nothing half-stored
    plan = {**QUARTERLY_PLAN, "tasks": [{**QUARTERLY_PLAN["tasks"][0], "lead": ["21787"]}]}
    created = await ok(await system.post("/api/plans", json=plan), 201)
    await ok(await system.post(f"/api/plans/{created['id']}/issue"))
    await report(system, "21787", "2026-Q1", {"video": 2})
    merged = await ok(
        await system.post("/api/units/merge", json={"old": ["21787"], "into": "21583", "on": "2027-01-01"})
    )
    assert merged["valid_to"] == "2026-12-31"
    assert (await ok(await system.get("/api/units/21787")))["successors"] == [{"code": "21583", "default": True}]

    async def restated() -> bool:
        return (await rollup(system, "21583", "2026-Q1")).get("outputs") == {"video": 2}

    await system.eventually(restated)
    assert (await rollup(system, "21583", "2026-Q1", view="as_reported"))["expected"] == 0

    async def moved() -> list | None:  # the open assignments follow the unit; the reported one stays
        items = (await system.get("/api/assignments", params={"unit": "21583"})).json()["items"]
        return items if len(items) == 3 else None

    open_ones = await system.eventually(moved)
    assert [a["period"] for a in open_ones] == ["2026-Q2", "2026-Q3", "2026-Q4"]
    detail = (await system.get(f"/api/assignments/{open_ones[0]['id']}")).json()
    assert detail["audit"][0]["kind"] == "moved_to_successor" and detail["audit"][0]["from"] == "21787"
    kept = (await system.get("/api/assignments", params={"unit": "21787"})).json()["items"]
    assert [a["period"] for a in kept] == ["2026-Q1"]


async def test_a_closed_plan_takes_no_more_progress(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    created = await ok(await system.post("/api/plans", json=QUARTERLY_PLAN), 201)
    await ok(await system.post(f"/api/plans/{created['id']}/issue"))
    assert (await system.post(f"/api/plans/{created['id']}/close")).json()["status"] == "closed"
    assert (await system.post(f"/api/plans/{created['id']}/close")).status_code == 409

    async def refused() -> bool:
        items = (await system.get("/api/assignments", params={"unit": "21787", "period": "2026-Q2"})).json()["items"]
        if not items:
            return False
        response = await system.post(
            f"/api/assignments/{items[0]['id']}/progress", json={"period": "2026-Q2", "status": "done", "outputs": {}}
        )
        return response.status_code == 409 and "kết thúc" in response.json()["message"]

    await system.eventually(refused)


async def test_rescheduling_a_task_moves_the_due_date_of_its_assignments(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan = {
        **QUARTERLY_PLAN,
        "tasks": [{**QUARTERLY_PLAN["tasks"][0], "lead": ["21787"], "timeline": "Trước ngày 30/11/2026"}],
    }
    created = await ok(await system.post("/api/plans", json=plan), 201)
    await ok(await system.post(f"/api/plans/{created['id']}/issue"))

    async def due() -> str | None:
        items = (await system.get("/api/assignments", params={"unit": "21787", "period": "2026-Q4"})).json()["items"]
        return items[0]["due"] if items else None

    assert await system.eventually(due) == "2026-11-30"
    earlier = {**plan, "tasks": [{**plan["tasks"][0], "timeline": "Trước ngày 16/10/2026"}]}
    result = await ok(await system.post(f"/api/plans/{created['id']}/amend", json=earlier))
    assert result["changes"]["changed"] == ["1"]

    async def moved() -> bool:
        return await due() == "2026-10-16"

    await system.eventually(moved)
