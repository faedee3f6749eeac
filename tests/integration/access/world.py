"""The world the authorisation matrix runs in: province 52 with two of its communes (the unit
and its sibling), a province plan assigning a quarterly task to both, and the identities every
route is tried as. Each service's cases (cases_<service>.py) say, per route, what each identity
gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.access import Right, Role
from tests.integration.conftest import Identity, System
from tests.integration.plans_data import QUARTERLY_PLAN

PROVINCE = "52"
UNIT = "21787"  # Xã Vĩnh Sơn
SIBLING = "21796"

# who → the identity; "anonymous" sends no credential at all
WHO = ["anonymous", "officer", "sibling_officer", "parent_head", "auditor", "admin", "readonly_token"]


@dataclass
class World:
    system: System
    unit_path: str
    sibling_path: str
    plan_id: str
    assignment_id: str  # the unit's 2026-Q1 assignment
    sibling_assignment_id: str
    identities: dict[str, Identity | None] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # ids made by cases' setups


@dataclass
class Case:
    """One route tried as every identity. `expect[who]` is the status class: 401, 403, 404 or
    "ok" (a 2xx, or a 409/422 that shows the access check was passed and the request was then
    judged on its content)."""

    method: str
    route: str  # the route as the OpenAPI document names it, e.g. /api/assignments/{assignment_id}
    url: str  # the filled-in path
    expect: dict[str, int | str]
    json: Any = None
    params: dict[str, str] | None = None
    files: Any = None
    data: Any = None
    note: str = ""


def allowed(*whos: str, otherwise: int = 403, **special: int | str) -> dict[str, int | str]:
    """Expectation: the named identities pass ("ok"), anonymous gets 401, everyone else
    `otherwise` (or what `special` says)."""
    out: dict[str, int | str] = {"anonymous": 401}
    for who in WHO[1:]:
        out[who] = "ok" if who in whos else otherwise
    out.update(special)
    return out


async def build(system: System) -> World:
    loaded = await system.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": [PROVINCE]})
    assert loaded.status_code == 200, loaded.text
    unit = (await system.get(f"/api/units/{UNIT}")).json()
    sibling = (await system.get(f"/api/units/{SIBLING}")).json()
    plan = {**QUARTERLY_PLAN, "tasks": [{**QUARTERLY_PLAN["tasks"][0], "lead": [UNIT, SIBLING]}]}
    created = await system.post("/api/plans", json=plan)
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    issued = await system.post(f"/api/plans/{plan_id}/issue")
    assert issued.status_code == 200, issued.text

    async def q1(code: str) -> str:
        async def found() -> list[Any]:
            params = {"unit": code, "period": "2026-Q1"}
            return (await system.get("/api/assignments", params=params)).json()["items"]

        return str((await system.eventually(found))[0]["id"])

    world = World(system, unit["path"], sibling["path"], plan_id, await q1(UNIT), await q1(SIBLING))
    world.identities = {
        "anonymous": None,
        "officer": Identity(unit["path"], (Role.officer,), name="Cán bộ xã Vĩnh Sơn"),
        "sibling_officer": Identity(sibling["path"], (Role.officer,), name="Cán bộ xã bên cạnh"),
        "parent_head": Identity(PROVINCE, (Role.head,), name="Lãnh đạo tỉnh"),
        "auditor": Identity(PROVINCE, (Role.auditor,), name="Thanh tra tỉnh"),
        "admin": Identity(PROVINCE, (Role.admin,), name="Quản trị tỉnh"),
        "readonly_token": Identity(unit["path"], rights=(Right.read,), name="hệ thống đọc số liệu của xã"),
    }
    await system.settled()
    return world
