"""No list answers with everything at once, on real NATS and PostgreSQL: every list route gives
a page of at most `limit` items (at most 500) and a `next_cursor` to the next page; walking the
pages gives every row once, in order, even while rows are written between two fetches; a
`limit` past 500 or a cursor not made by the list is refused with 422 naming the parameter, in
Vietnamese; the periodic report gives its tasks and notes a page at a time too, and an assignment
its latest reports, the older corrections at …/history."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.tasks.evidence import FILES
from shared.text import normalize
from tests.integration.conftest import System
from tests.integration.plans_data import ONE_COMMUNE_PLAN, QUARTERLY_PLAN
from tests.integration.steps import q1_assignment

pytestmark = pytest.mark.integration

VINH_SON = "21787"
LISTS = [  # (path, query) of every list route, as a national admin may read them
    ("/api/plans", {}),
    ("/api/units", {}),
    ("/api/units/52/bodies", {}),
    ("/api/users", {}),
    ("/api/tokens", {}),
    ("/api/assignments", {"unit": VINH_SON}),
    ("/api/notifications", {"unit": VINH_SON}),
    ("/api/notifications/contacts", {"unit": VINH_SON}),
    ("/api/notifications/deliveries", {}),
    ("/api/reports/audit", {}),
    ("/api/reports/52/2026-Q1/submissions", {}),
    ("/api/reports/52/2026-Q1/children-submissions", {}),
    ("/api/reports/52/2026-Q1/tasks", {}),
    ("/api/reports/52/2026-Q1/highlights/notes", {}),
]


async def walk(system: System, path: str, limit: int, between: Any = None, **query: str) -> list[dict[str, Any]]:
    """Every page of a list, `between()` run after each page but the last."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = await system.get(path, params={**query, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["items"]) <= limit and page["count"] == len(page["items"])
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        if between is not None:
            await between()


async def test_walking_the_pages_of_a_list_gives_every_row_once_in_order_while_rows_are_added(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    made = []
    for i in range(7):
        answer = await system.post("/api/plans", json={**QUARTERLY_PLAN, "number": f"{i + 1}/KH-UBND"})
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["id"])
    added: list[str] = []

    async def another_plan() -> None:  # newer than every row walked: it belongs before page one
        answer = await system.post("/api/plans", json={**QUARTERLY_PLAN, "number": f"{len(added) + 50}/KH-UBND"})
        added.append(answer.json()["id"])

    walked = [p["id"] for p in await walk(system, "/api/plans", 3, another_plan, issuer="52")]
    assert walked == list(reversed(made)) and len(added) == 2  # newest first, each once; 3 pages

    contacts: list[str] = []

    async def another_contact() -> None:  # the oldest first: a new one comes on a later page
        n = len(contacts)
        body = {"unit": "52.21787", "name": f"Cán bộ {n}", "email": f"canbo{n}@example.org", "channels": ["email"]}
        answer = await system.post("/api/notifications/contacts", json=body)
        assert answer.status_code == 201, answer.text
        contacts.append(answer.json()["id"])

    for _ in range(5):
        await another_contact()
    walked = [c["id"] for c in await walk(system, "/api/notifications/contacts", 2, another_contact, unit=VINH_SON)]
    assert walked == contacts and len(contacts) > 5  # those added while walking too, each once

    units = await walk(system, "/api/units", 40, parent="52")
    assert len(units) == 135 and [u["code"] for u in units] == sorted(u["code"] for u in units)
    named = await walk(system, "/api/units", 2, q="vinh")
    assert len({u["code"] for u in named}) == len(named) > 2 and all("vinh" in normalize(u["name"]) for u in named)


@pytest.mark.parametrize(("path", "query"), LISTS)
async def test_a_page_larger_than_500_is_refused_naming_limit(system: System, path: str, query: dict) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    answer = await system.get(path, params={**query, "limit": 501})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["field"] == "limit"
    assert answer.json()["detail"][0]["msg"] == "phải nhỏ hơn hoặc bằng 500"
    assert (await system.get(path, params={**query, "limit": 500})).status_code != 422  # (the reports service
    # may not have heard of the unit yet: 404)


@pytest.mark.parametrize(("path", "query"), LISTS)
async def test_a_forged_cursor_is_refused_naming_cursor(system: System, path: str, query: dict) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    forged = base64.urlsafe_b64encode(b'["plans","2099-01-01T00:00:00+00:00","x"]').decode() + ".AAAA"
    for cursor in ("không-phải-con-trỏ", forged):
        answer = await system.get(path, params={**query, "cursor": cursor})
        assert answer.status_code == 422, answer.text
        [problem] = answer.json()["detail"]
        assert problem["field"] == "cursor" and "con trỏ trang không hợp lệ" in problem["msg"]


THREE_TASKS: dict[str, Any] = {
    **QUARTERLY_PLAN,
    "tasks": [
        {**QUARTERLY_PLAN["tasks"][0], "ref": ref, "title": f"Nhiệm vụ {ref}", "lead": [VINH_SON]}
        for ref in ("1", "2", "10")
    ],
}


async def test_the_report_gives_its_tasks_and_notes_a_page_at_a_time(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=THREE_TASKS)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    async def assigned() -> list | None:
        answer = await system.get("/api/assignments", params={"unit": VINH_SON, "period": "2026-Q1"})
        items = answer.json()["items"]
        return items if len(items) == 3 else None

    for item in await system.eventually(assigned):
        sent = await system.post(
            f"/api/assignments/{item['id']}/progress",
            json={"period": "2026-Q1", "status": "done", "note": f"Ghi chú nhiệm vụ {item['task_ref']}"},
        )
        assert sent.status_code == 201, sent.text

    async def counted() -> dict[str, Any] | None:
        body = (await system.get("/api/reports/52/2026-Q1", params={"limit": 2})).json()
        return body if body.get("reported") == 3 and body["pages"]["notes"]["total"] == 3 else None

    report = await system.eventually(counted)
    assert [t["task_ref"] for t in report["tasks"]] == ["1", "2"]  # the first page: "10" comes after "2"
    assert report["pages"]["tasks"]["total"] == 3 and report["pages"]["tasks"]["next_cursor"]
    assert len(report["highlights"]["notes"]) == 2 and report["pages"]["notes"]["next_cursor"]
    assert report["pages"]["good_models"] == {"total": 0, "next_cursor": None}

    rest = (
        await system.get("/api/reports/52/2026-Q1/tasks", params={"cursor": report["pages"]["tasks"]["next_cursor"]})
    ).json()
    assert [t["task_ref"] for t in rest["items"]] == ["10"] and rest["next_cursor"] is None and rest["total"] == 3
    notes = (
        report["highlights"]["notes"]
        + (
            await system.get(
                "/api/reports/52/2026-Q1/highlights/notes", params={"cursor": report["pages"]["notes"]["next_cursor"]}
            )
        ).json()["items"]
    )
    assert sorted(n["text"] for n in notes) == [f"Ghi chú nhiệm vụ {ref}" for ref in ("1", "10", "2")]
    assert len({n["assignment_id"] for n in notes}) == 3

    tasks_cursor = report["pages"]["tasks"]["next_cursor"]  # one section's cursor is not another's
    crossed = await system.get("/api/reports/52/2026-Q1/highlights/notes", params={"cursor": tasks_cursor})
    assert crossed.status_code == 422 and crossed.json()["detail"][0]["field"] == "cursor"
    assert (await system.get("/api/reports/52/2026-Q1.xlsx")).status_code == 200  # the document: whole


async def an_assignment(system: System) -> str:
    """The address of Vĩnh Sơn's assignment of a plan just issued."""
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200
    return f"/api/assignments/{(await q1_assignment(system, VINH_SON))['id']}"


async def test_an_assignment_shows_its_latest_reports_and_pages_back_through_every_correction(system: System) -> None:
    url = await an_assignment(system)

    async def correct(note: str) -> str:
        sent = await system.post(url + "/progress", json={"period": "2026-Q1", "status": "in_progress", "note": note})
        assert sent.status_code == 201, sent.text
        return str(sent.json()["id"])

    sent = [await correct(f"Lần {n}") for n in range(1, 28)]  # a report and 26 corrections

    detail = (await system.get(url)).json()
    shown = detail["history"]  # the latest 20, oldest first: the one that counts last
    assert [h["id"] for h in shown] == sent[-20:] and [h["number"] for h in shown] == list(range(8, 28))
    assert shown[-1]["note"] == "Lần 27" and detail["pages"]["history"]["total"] == 27
    older = (await system.get(url + "/history", params={"cursor": detail["pages"]["history"]["next_cursor"]})).json()
    assert [h["id"] for h in older["items"]] == sent[6::-1] and older["next_cursor"] is None and older["total"] == 27

    late: list[str] = []

    async def another_correction() -> None:  # newer than every report walked: before page one
        late.append(await correct(f"Lần sau {len(late) + 1}"))

    walked = await walk(system, url + "/history", 6, another_correction)
    assert [h["id"] for h in walked] == sent[::-1] and len(late) == 4  # the newest first, each once; 5 pages
    assert [h["number"] for h in walked] == list(range(27, 0, -1))


async def test_the_history_of_an_assignment_refuses_a_page_over_500_and_a_forged_cursor(system: System) -> None:
    url = await an_assignment(system) + "/history"
    too_many = await system.get(url, params={"limit": 501})
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["detail"][0]["field"] == "limit"
    nothing_yet = {"items": [], "count": 0, "next_cursor": None, "total": 0}
    assert (await system.get(url, params={"limit": 500})).json() == nothing_yet
    forged = base64.urlsafe_b64encode(b'["assignment-history","2099-01-01T00:00:00+00:00","x"]').decode() + ".AAAA"
    files_cursor = FILES.encode([datetime.now(UTC), uuid.uuid4()])  # the same sort key, another list's
    for cursor in ("không-phải-con-trỏ", forged, files_cursor):
        answer = await system.get(url, params={"cursor": cursor})
        assert answer.status_code == 422, answer.text
        [problem] = answer.json()["detail"]
        assert problem["field"] == "cursor" and "con trỏ trang không hợp lệ" in problem["msg"]
