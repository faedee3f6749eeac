"""Requests too big to be real are refused before any work starts, by field, in Vietnamese, with
nothing stored: a plan of 30,000 tasks (about 2 MB), a task title of a megabyte, a note past its
bound, a provinces list longer than the country's; text that is stored is stored clean (no
control characters a Word or Excel report cannot hold, composed Unicode), in the table and in the
event alike."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from sqlalchemy import select

from shared import limits
from shared.db import system_scope
from tests.integration.conftest import System
from tests.integration.plans_data import ONE_COMMUNE_PLAN
from tests.integration.steps import q1_assignment

pytestmark = pytest.mark.integration


def fields(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {p["field"]: p["msg"] for p in response.json()["detail"]}


async def plans_stored(system: System) -> int:
    return len((await system.get("/api/plans")).json()["items"])


async def test_a_plan_of_30000_tasks_is_refused_naming_tasks_and_nothing_is_stored(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    # every ref distinct but the last: the old duplicate check scanned the refs before each one
    task = {"title": "T", "lead": ["21787"], "timeline": "Quý I"}
    tasks = [{"ref": f"{i // 100}.{i % 100}", **task} for i in range(30_000)] + [{"ref": "0.0", **task}]
    body = json.dumps({**ONE_COMMUNE_PLAN, "tasks": tasks}, ensure_ascii=False, separators=(",", ":")).encode()
    # about 2 MB, under the gateway's request body limit (2 MiB): what refuses it is the bound on tasks
    assert 1_800_000 < len(body) < 2 * 1024 * 1024

    refused = await system.post("/api/plans", content=body, headers={"content-type": "application/json"})

    assert fields(refused) == {"tasks": f"tối đa {limits.MAX_TASKS} mục"}
    assert await plans_stored(system) == 0


async def test_over_long_texts_of_a_plan_are_refused_each_by_its_field(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    task = ONE_COMMUNE_PLAN["tasks"][0]
    body = {
        **ONE_COMMUNE_PLAN,
        "purpose": "Mục đích " * 10_000,  # 90,000 characters
        "duties": [{"body": "Sở Nội vụ", "lines": ["x" * (limits.NOTE + 1)]}],
        "tasks": [{**task, "title": "Nhiệm vụ " * 120_000}, {**task, "ref": "2", "lead": ["21787"] * 501}],
    }

    refused = fields(await system.post("/api/plans", json=body))

    assert refused == {
        "purpose": f"tối đa {limits.LONG} ký tự",
        "duties[0].lines[0]": f"tối đa {limits.NOTE} ký tự",
        "tasks[0].title": f"tối đa {limits.TITLE} ký tự",
        "tasks[1].lead": f"tối đa {limits.MANY} mục",
    }
    assert await plans_stored(system) == 0


async def test_an_over_long_progress_note_is_refused_naming_note_and_nothing_is_stored(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
    await system.post(f"/api/plans/{plan_id}/issue")
    assignment = await q1_assignment(system, "21787")
    url = f"/api/assignments/{assignment['id']}/progress"
    report = {"period": "2026-Q1", "status": "done", "outputs": {"article": 1}}

    refused = await system.post(
        url, json={**report, "note": "Ghi chú " * 2_000, "outputs": {f"kind{i}": 1 for i in range(51)}}
    )

    assert fields(refused) == {"note": f"tối đa {limits.NOTE} ký tự", "outputs": f"tối đa {limits.FEW} mục"}
    assert (await system.get(f"/api/assignments/{assignment['id']}")).json()["history"] == []


async def test_a_provinces_list_longer_than_the_country_repeated_or_unknown_is_refused_by_field(
    system: System,
) -> None:
    too_many = await system.post("/api/units/load", json={"provinces": ["52"] * 100_000})
    assert fields(too_many) == {"provinces": "tối đa 34 mục"}
    twice = await system.post("/api/units/load", json={"source": "vietnamadminunits", "provinces": ["52", "48", "52"]})
    assert fields(twice) == {"provinces": "mỗi tỉnh chỉ nêu một lần: 52"}
    unknown = fields(await system.post("/api/units/load", json={"provinces": ["48", "53", "5" * 10_000]}))
    assert set(unknown) == {"provinces[1]", "provinces[2]"}
    assert "không có tỉnh mã '53'" in unknown["provinces[1]"] and unknown["provinces[2]"] == "tối đa 2 ký tự"

    for code in ("52", "48"):  # nothing loaded, not even the valid provinces named before
        assert (await system.get(f"/api/units/{code}")).status_code == 404


async def test_control_characters_in_a_note_are_removed_when_stored_and_in_the_event(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
    await system.post(f"/api/plans/{plan_id}/issue")
    assignment = await q1_assignment(system, "21787")
    decomposed = unicodedata.normalize("NFD", "Xã Vĩnh Sơn")  # as some keyboards type it

    stored = await system.post(
        f"/api/assignments/{assignment['id']}/progress",
        json={
            "period": "2026-Q1",
            "status": "done",
            "outputs": {"article": 1},
            "note": f"Đã\u0007 đăng\x0b tin\ufffe ở {decomposed}\nDòng 2\tcột",
            "good_model": "Mô hình\x00 hay\x1f",
        },
    )

    assert stored.status_code == 201, stored.text
    clean = "Đã đăng tin ở Xã Vĩnh Sơn\nDòng 2\tcột"
    history = (await system.get(f"/api/assignments/{assignment['id']}")).json()["history"]
    assert [(h["note"], h["good_model"]) for h in history] == [(clean, "Mô hình hay")]
    tasks = system.services["tasks"]
    with system_scope():
        async with tasks.sessions() as session:
            outbox = tasks.outbox
            bodies = (await session.execute(select(outbox.c.body).where(outbox.c.family == "progress"))).scalars()
            payloads = [json.loads(body)["payload"] for body in bodies]
    assert [(p["note"], p["good_model"]) for p in payloads] == [(clean, "Mô hình hay")]
