"""The authorisation matrix: every route of every service × every identity of world.py → the
expected 401 / 403 / 404 / allowed, against the real services. A route with no case fails the
test; the matrix as run is written to docs/access-matrix.md for reviewers."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from shared import auth
from shared.runtime import api_routes
from tests.integration.access import world as w
from tests.integration.conftest import FACTORIES, System

pytestmark = pytest.mark.integration

# CCHC_MATRIX_SERVICES=tasks,plans narrows a run while a service's cases are written; the
# matrix file is then not rewritten
ONLY = [s for s in os.environ.get("CCHC_MATRIX_SERVICES", "").split(",") if s]
SERVICES = ONLY or list(FACTORIES)
MATRIX = Path(__file__).resolve().parents[3] / "docs" / "access-matrix.md"


def outcome(status: int) -> int | str:
    if 200 <= status < 300 or status in (409, 422):
        return "ok"
    return status


async def test_every_route_answers_every_identity_as_declared(system: System) -> None:
    world = await w.build(system)
    cases: dict[str, list[w.Case]] = {}
    for name in SERVICES:
        module = importlib.import_module(f"tests.integration.access.cases_{name}")
        cases[name] = await module.cases(world)

    # every route of every service has a case (and a declaration, which the service checked)
    for name in SERVICES:
        every = api_routes(system.apps[name])
        routes = {(method, path) for path, route in every if route.include_in_schema for method in route.methods}
        assert len(routes) >= 6, f"{name}: the routes were not found ({routes})"
        covered = {(c.method, c.route) for c in cases[name]}
        assert routes <= covered, f"{name}: routes without a matrix case: {sorted(routes - covered)}"
        for path, route in every:
            assert auth.rule_of(route) is not None, f"{name}: {path} declares no access"

    rows, wrong = [], []
    for name in SERVICES:
        for case in cases[name]:
            got: dict[str, int] = {}
            for who in w.WHO:
                response = await system.request(
                    case.method,
                    case.url,
                    as_=world.identities[who],
                    json=case.json,
                    params=case.params,
                    files=case.files,
                    data=case.data,
                )
                got[who] = response.status_code
                assert response.status_code != 500, f"{case.method} {case.url} as {who}: {response.text}"
                if outcome(response.status_code) != case.expect[who]:
                    wrong.append(
                        f"{case.method} {case.url} as {who}: expected {case.expect[who]}, got "
                        f"{response.status_code} {response.text[:200]}"
                    )
            rows.append((name, case, got))
    if not ONLY:
        _write(rows)
    assert not wrong, "\n".join(wrong)


def _write(rows: list[tuple[str, w.Case, dict[str, int]]]) -> None:
    lines = [
        "# Authorisation matrix",
        "",
        "Written by `tests/integration/access/test_matrix.py` on each run: every route of every service",
        "tried as each identity against the real services (status codes as answered; 409/422 mean the",
        "access check was passed and the request was then judged on its content). The unit is commune",
        f"{w.UNIT} of province {w.PROVINCE}; the sibling is commune {w.SIBLING}; the parent head, auditor",
        "and admin belong to the province; the read-only token is scoped to the unit.",
        "",
        "| service | route | " + " | ".join(w.WHO) + " | note |",
        "|---|---|" + "---|" * len(w.WHO) + "---|",
    ]
    for name, case, got in rows:
        cells = " | ".join(str(got[who]) for who in w.WHO)
        lines.append(f"| {name} | `{case.method} {case.route}` | {cells} | {case.note} |")
    MATRIX.parent.mkdir(exist_ok=True)
    MATRIX.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_the_openapi_document_declares_who_may_call_each_operation(system: System) -> None:
    """Walks each service's OpenAPI document: every operation says its right and scope."""
    for name in FACTORIES:
        paths = system.apps[name].openapi()["paths"]
        operations = [(path, method, op) for path, item in paths.items() for method, op in item.items()]
        assert len(operations) >= 6, name
        for path, method, op in operations:
            access = op.get("x-cchc-access")
            assert access and access.get("scope"), f"{name}: {method.upper()} {path} declares no access"
            assert access.get("public") or op.get("security") == [{"bearer": []}], (name, path, method)
