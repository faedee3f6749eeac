"""The reports service's routes in the authorisation matrix. Figures are read about a unit in the
caller's subtree (a unit outside it, in the query or the path, is 403: unit codes are public,
figures are not); a unit's head submits only its own report (so no identity of the matrix may
submit the unit's, and the province's head may submit the province's); only the head of the
direct parent accepts or returns it. The writes use 2026-Q2, so that accepting does not lock
the 2026-Q1 assignment the tasks cases report on."""

from __future__ import annotations

from tests.integration.access.world import PROVINCE, UNIT, Case, World, allowed
from tests.integration.conftest import head

Q1, Q2 = "2026-Q1", "2026-Q2"
READ_UNIT = ("officer", "parent_head", "auditor", "admin", "readonly_token")  # the unit and its province
READ_PROVINCE = ("parent_head", "auditor", "admin")


async def cases(world: World) -> list[Case]:
    # Something for the province to decide on: the unit's own head sends its Q2 report.
    sent = await world.system.as_(head(world.unit_path)).post(f"/api/reports/{UNIT}/{Q2}/submit", json={})
    assert sent.status_code == 201, sent.text
    unit, province = f"/api/reports/{UNIT}", f"/api/reports/{PROVINCE}"
    out: list[Case] = []
    for name in ("rollup", "children", "lagging", "trend"):
        route = f"/api/reports/{name}"
        out += [
            Case("GET", route, route, allowed(*READ_UNIT), params={"unit": UNIT, "period": Q1}),
            Case(
                "GET",
                route,
                route,
                allowed(*READ_PROVINCE),
                params={"unit": PROVINCE, "period": Q1},
                note="the province: not the commune's",
            ),
        ]
    for suffix, pattern in (
        ("", ""),
        (".docx", ".docx"),
        (".xlsx", ".xlsx"),
        ("/tasks", "/tasks"),  # the report's sections, a page at a time
        ("/highlights/notes", "/highlights/{kind}"),
    ):
        route = "/api/reports/{unit}/{period}" + pattern
        out += [
            Case("GET", route, f"{unit}/{Q1}{suffix}", allowed(*READ_UNIT)),
            Case("GET", route, f"{province}/{Q1}{suffix}", allowed(*READ_PROVINCE), note="the province's report"),
        ]
    out += [
        Case(
            "POST",
            "/api/reports/{unit}/{period}/submit",
            f"{unit}/{Q2}/submit",
            allowed(),
            json={},
            note="only the unit's own head submits (not its province for it); none here",
        ),
        Case(
            "POST",
            "/api/reports/{unit}/{period}/submit",
            f"{province}/{Q2}/submit",
            allowed("parent_head"),
            json={},
            note="the province's head, its own report (409: no parent to send to)",
        ),
        Case(
            "POST",
            "/api/reports/{unit}/{period}/accept",
            f"{unit}/{Q2}/accept",
            allowed("parent_head"),
            json={},
            note="the direct parent's head only",
        ),
        Case(
            "POST",
            "/api/reports/{unit}/{period}/return",
            f"{unit}/{Q2}/return",
            allowed("parent_head"),
            json={"reason": "Mở lại để bổ sung số liệu"},
            note="the direct parent's head only (reopens the accepted report)",
        ),
        Case(
            "POST",
            "/api/reports/{unit}/{period}/reopen",
            f"{unit}/{Q2}/reopen",
            allowed("parent_head"),
            json={"reason": "Mở lại để điều chỉnh số liệu"},
            note="the direct parent's head only (409 unless the report was accepted)",
        ),
        Case(
            "GET",
            "/api/reports/{unit}/{period}/submissions",
            f"{unit}/{Q2}/submissions",
            allowed(*READ_UNIT),
            note="the unit reads the decisions on its reports",
        ),
        Case(
            "GET",
            "/api/reports/{unit}/{period}/children-submissions",
            f"{province}/{Q2}/children-submissions",
            allowed(*READ_PROVINCE),
        ),
        Case(
            "GET",
            "/api/reports/{unit}/{period}/children-submissions",
            f"{unit}/{Q2}/children-submissions",
            allowed(*READ_UNIT),
            note="the commune's bodies",
        ),
        Case(
            "GET",
            "/api/reports/audit",
            "/api/reports/audit",
            allowed("parent_head", "auditor", "admin"),
            note="heads, auditors, admins of the acting unit or above",
        ),
    ]
    return out
