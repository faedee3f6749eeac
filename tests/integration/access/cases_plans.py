"""The plans service's routes in the authorisation matrix: identity (logging in, accounts, API
tokens), the unit directory, plans and the plan importer.

What they show: the directory is read by every signed-in caller; loading, renaming and merging
units is the admin's, within its province; bodies are managed by heads; plans are read within
the caller's subtree plus the published plans of the units above it (a commune reads the
province plan it implements, a sibling commune's own plan is 404), and only a head with the
plan right on the issuer drafts, issues, amends and closes them."""

from __future__ import annotations

from typing import Any

from tests.integration.access.world import PROVINCE, SIBLING, UNIT, WHO, Case, World, allowed
from tests.integration.plans_data import QUARTERLY_PLAN
from tests.unit.importer_gold import document

EVERYONE = WHO[1:]  # every signed-in identity


def province_plan(number: str, **changes: Any) -> dict[str, Any]:
    """A province plan with one quarterly task led by the unit only (issuing it stays small)."""
    return {**QUARTERLY_PLAN, "number": number, "tasks": [{**QUARTERLY_PLAN["tasks"][0], "lead": [UNIT]}], **changes}


async def _created(world: World, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await world.system.post(url, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def cases(world: World) -> list[Case]:
    system = world.system
    unit = (await system.get(f"/api/units/{UNIT}")).json()
    # made as the operator: a draft to edit, a draft to issue, amend and close, the unit's own
    # implementing plan (a draft of commune UNIT), an account and an API token of the unit
    editable = (await _created(world, "/api/plans", province_plan("90/KH-UBND")))["id"]
    issuable = (await _created(world, "/api/plans", province_plan("91/KH-UBND")))["id"]
    own = (await _created(world, f"/api/plans/{world.plan_id}/children", {"unit": UNIT}))["id"]
    account = await _created(
        world,
        "/api/users",
        {"username": "matran.canbo", "unit": UNIT, "roles": ["officer"], "password": "mat-khau-dai-1"},
    )
    national = await _created(
        world, "/api/users", {"username": "quantri.quocgia", "unit": "*", "roles": ["admin"], "password": "mat-khau-2"}
    )
    token = await _created(world, "/api/tokens", {"name": "hệ thống thống kê", "unit": UNIT})
    seed = document("seed:001")

    own_plan_readers = allowed("officer", "parent_head", "auditor", "admin", "readonly_token", otherwise=404)
    return [
        # --- identity -------------------------------------------------------------------------
        Case(
            "POST",
            "/api/auth/login",
            "/api/auth/login",
            {**{who: 401 for who in WHO}, "admin": 429, "readonly_token": 429},
            json={"username": "khong.co.ai", "password": "sai-mat-khau"},
            note="public; an unknown account is 401 for everyone, the 6th failure in 15 min is throttled (429)",
        ),
        Case("GET", "/api/auth/me", "/api/auth/me", allowed(*EVERYONE), note="any signed-in caller: itself"),
        Case("POST", "/api/auth/logout", "/api/auth/logout", allowed(*EVERYONE), note="its own session"),
        Case(
            "POST",
            "/api/auth/password",
            "/api/auth/password",
            allowed(),
            json={"old_password": "mat-khau-cu-1", "new_password": "mat-khau-moi-2"},
            note="a stored account's own password only: the matrix identities (signed tokens) have none",
        ),
        Case("GET", "/api/users", "/api/users", allowed("admin"), note="admin, accounts of its subtree"),
        Case(
            "GET",
            "/api/users",
            "/api/users",
            allowed("admin"),
            params={"within": SIBLING},
            note="within= a commune of the admin's province",
        ),
        Case(
            "POST",
            "/api/users",
            "/api/users",
            allowed("admin"),
            json={"username": "canbo.moi", "unit": UNIT, "roles": ["officer"], "password": "mat-khau-dai-3"},
            note="admin of a unit above the new account's",
        ),
        Case(
            "PATCH",
            "/api/users/{user_id}",
            f"/api/users/{account['id']}",
            allowed("admin"),
            json={"name": "Cán bộ Mặt trận"},
        ),
        Case(
            "PATCH",
            "/api/users/{user_id}",
            f"/api/users/{national['id']}",
            allowed(admin=404),
            json={"name": "Quản trị quốc gia"},
            note="a national account is outside a province admin's subtree: as if absent",
        ),
        Case("POST", "/api/users/{user_id}/password", f"/api/users/{account['id']}/password", allowed("admin")),
        Case("GET", "/api/tokens", "/api/tokens", allowed("admin")),
        Case(
            "POST",
            "/api/tokens",
            "/api/tokens",
            allowed("admin"),
            json={"name": "cổng dữ liệu của xã", "unit": UNIT},
        ),
        Case("DELETE", "/api/tokens/{token_id}", f"/api/tokens/{token['id']}", allowed("admin")),
        # --- the unit directory ---------------------------------------------------------------
        Case("GET", "/api/units", "/api/units", allowed(*EVERYONE), note="directory: any signed-in caller"),
        Case("GET", "/api/units/{code}", f"/api/units/{SIBLING}", allowed(*EVERYONE), note="not sensitive"),
        Case(
            "GET",
            "/api/units/resolve",
            "/api/units/resolve",
            allowed(*EVERYONE),
            params={"within": PROVINCE, "name": unit["name"]},
        ),
        Case("GET", "/api/units/{code}/bodies", f"/api/units/{UNIT}/bodies", allowed(*EVERYONE)),
        Case(
            "POST",
            "/api/units/{code}/bodies",
            f"/api/units/{UNIT}/bodies",
            allowed("parent_head"),
            json={"name": "Tổ công nghệ số cộng đồng"},
            note="manage on the unit",
        ),
        Case(
            "POST",
            "/api/units/{code}/bodies/standard",
            f"/api/units/{UNIT}/bodies/standard",
            allowed("parent_head"),
            note="manage on the unit",
        ),
        Case(
            "PATCH",
            "/api/units/{code}",
            f"/api/units/{UNIT}",
            allowed("admin"),
            json={"name": unit["name"]},
            note="admin on the unit (renamed to its own name)",
        ),
        Case(
            "POST",
            "/api/units/load",
            "/api/units/load",
            allowed("admin"),
            json={"source": "vietnam-provinces", "provinces": [PROVINCE]},
            note="admin of every province loaded (reloading adds nothing)",
        ),
        Case(
            "POST",
            "/api/units/merge",
            "/api/units/merge",
            allowed("admin"),
            json={"old": ["99999"], "into": UNIT, "on": "2026-07-01"},
            note="admin on `into` and each old unit; an unknown old unit is then 422",
        ),
        # --- plans ----------------------------------------------------------------------------
        Case(
            "POST",
            "/api/plans",
            "/api/plans",
            allowed("parent_head"),
            json=province_plan("92/KH-UBND"),
            note="plan on the issuer (the province)",
        ),
        Case(
            "PUT",
            "/api/plans/{plan_id}",
            f"/api/plans/{editable}",
            allowed("parent_head"),
            json=province_plan("90/KH-UBND", title="Kế hoạch tuyên truyền (dự thảo sửa)"),
        ),
        Case("GET", "/api/plans/{plan_id}", f"/api/plans/{world.plan_id}", allowed(*EVERYONE), note="issued above"),
        Case(
            "GET",
            "/api/plans/{plan_id}",
            f"/api/plans/{own}",
            own_plan_readers,
            note="the unit's own draft: the sibling gets 404",
        ),
        Case("GET", "/api/plans", "/api/plans", allowed(*EVERYONE), note="filtered to what the caller may read"),
        Case(
            "GET",
            "/api/plans",
            "/api/plans",
            allowed("sibling_officer", "parent_head", "auditor", "admin"),
            params={"within": SIBLING},
            note="within= outside the caller's subtree: 403",
        ),
        Case(
            "GET",
            "/api/plans",
            "/api/plans",
            allowed(*EVERYONE),
            params={"issuer": PROVINCE},
            note="issuer= a unit above: its published plans",
        ),
        Case("POST", "/api/plans/{plan_id}/issue", f"/api/plans/{issuable}/issue", allowed("parent_head")),
        Case(
            "POST",
            "/api/plans/{plan_id}/amend",
            f"/api/plans/{issuable}/amend",
            allowed("parent_head"),
            json=province_plan("91/KH-UBND", title="Kế hoạch tuyên truyền (điều chỉnh)"),
        ),
        Case("GET", "/api/plans/{plan_id}/versions", f"/api/plans/{own}/versions", own_plan_readers),
        Case("POST", "/api/plans/{plan_id}/close", f"/api/plans/{issuable}/close", allowed("parent_head")),
        Case(
            "POST",
            "/api/plans/{plan_id}/children",
            f"/api/plans/{world.plan_id}/children",
            allowed("parent_head"),
            json={"unit": SIBLING},
            note="plan on the child unit",
        ),
        Case("GET", "/api/plans/{plan_id}/tree", f"/api/plans/{world.plan_id}/tree", allowed(*EVERYONE)),
        Case("GET", "/api/plans/{plan_id}/tree", f"/api/plans/{own}/tree", own_plan_readers),
        Case(
            "GET", "/api/plans/parse", "/api/plans/parse", allowed("parent_head"), note="plan right (the upload limits)"
        ),
        Case(
            "POST",
            "/api/plans/parse",
            "/api/plans/parse",
            allowed("parent_head"),
            files={"file": (seed.name, seed.read_bytes(), "text/plain")},
            note="plan right (reading a document is drafting)",
        ),
    ]
