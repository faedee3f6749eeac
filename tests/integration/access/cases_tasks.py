"""The tasks service's routes in the authorisation matrix. Reads need `read` within the caller's
subtree; progress and evidence need `report` on the assignment's unit. An assignment outside the
caller's subtree is as if absent (404) for reads and writes alike; a list naming a unit above the
caller's or beside it is refused (403)."""

from __future__ import annotations

from tests.integration.access.world import PROVINCE, SIBLING, UNIT, Case, World, allowed

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
EVERY_READER = ("officer", "sibling_officer", "parent_head", "auditor", "admin", "readonly_token")
UNIT_READERS = ("officer", "parent_head", "auditor", "admin", "readonly_token")
PROVINCE_READERS = ("parent_head", "auditor", "admin")


async def cases(world: World) -> list[Case]:
    aid, sibling_aid = world.assignment_id, world.sibling_assignment_id
    made = await world.system.post(
        f"/api/assignments/{aid}/evidence", files={"file": ("bao-cao.pdf", PDF, "application/pdf")}
    )
    assert made.status_code == 201, made.text
    file_id = made.json()["id"]
    progress = {"period": "2026-Q1", "status": "in_progress", "outputs": {"article": 1}}
    one = "/api/assignments/{assignment_id}"
    return [
        Case(
            "GET",
            "/api/assignments",
            "/api/assignments",
            allowed(*EVERY_READER, sibling_officer=403),
            params={"unit": UNIT, "period": "2026-Q1"},
            note="a unit outside the caller's subtree: 403",
        ),
        Case(
            "GET",
            "/api/assignments",
            "/api/assignments",
            allowed(*PROVINCE_READERS),
            params={"within": PROVINCE},
            note="a commune asking for its province: 403",
        ),
        Case(
            "GET",
            "/api/assignments/work",
            "/api/assignments/work",
            allowed(*EVERY_READER, sibling_officer=403),
            params={"unit": UNIT},
            note="a unit outside the caller's subtree: 403",
        ),
        Case(
            "GET",
            "/api/assignments/work",
            "/api/assignments/work",
            allowed(*PROVINCE_READERS),
            params={"unit": PROVINCE},
            note="a commune asking for its province: 403",
        ),
        Case("GET", one, f"/api/assignments/{aid}", allowed(*UNIT_READERS, otherwise=404)),
        Case("GET", one + "/history", f"/api/assignments/{aid}/history", allowed(*UNIT_READERS, otherwise=404)),
        Case(
            "POST",
            one + "/progress",
            f"/api/assignments/{aid}/progress",
            allowed("officer", "parent_head", sibling_officer=404),
            json=progress,
            note="read-only roles: 403 (no `report`); the sibling: 404",
        ),
        Case(
            "POST",
            one + "/progress",
            f"/api/assignments/{sibling_aid}/progress",
            allowed("sibling_officer", "parent_head", officer=404),
            json={**progress, "reporter": {"unit": SIBLING}},
            note="the sibling's own assignment, naming itself as the reporter",
        ),
        Case(
            "POST",
            one + "/evidence",
            f"/api/assignments/{aid}/evidence",
            allowed("officer", "parent_head", sibling_officer=404),
            files={"file": ("bien-ban.pdf", PDF + b"%x\n", "application/pdf")},
        ),
        Case("GET", one + "/evidence", f"/api/assignments/{aid}/evidence", allowed(*UNIT_READERS, otherwise=404)),
        Case("GET", "/api/evidence/{file_id}", f"/api/evidence/{file_id}", allowed(*UNIT_READERS, otherwise=404)),
    ]
