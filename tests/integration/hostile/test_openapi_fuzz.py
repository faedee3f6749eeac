"""Every operation of every service's OpenAPI document, called with what Schemathesis makes of
its schema (valid and invalid bodies, queries and path parameters, odd Unicode, huge numbers)
by a national machine client with every right and by the province's head, against the real
services on NATS and PostgreSQL: no answer is a server error, and every refusal of the request's
shape (422) names its fields.

Reproducible and bounded: Hypothesis is derandomized (the same cases on every run, no example
database), a few cases per operation and no shrinking; the run takes a couple of minutes on two
cores. A case that fails is printed with its curl command to replay it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case

from tests.integration.conftest import OPERATOR, Identity, System, head
from tests.integration.plans_data import QUARTERLY_PLAN

pytestmark = pytest.mark.integration

EXAMPLES = 15  # cases per operation and caller
SERVICES = ("plans", "tasks", "notify", "reports")


def problem_of(status: int, body: Any) -> str | None:
    """What is wrong with an answer, if anything: a server error, or a 422 not naming its fields."""
    if status >= 500:
        return f"{status} {str(body)[:300]}"
    if status == 422:
        detail = body.get("detail") if isinstance(body, dict) else None
        if not isinstance(detail, list) or not detail:
            return f"422 without a list of problems: {str(body)[:300]}"
        unnamed = [p for p in detail if not (isinstance(p, dict) and p.get("field") and p.get("msg"))]
        if unnamed:
            return f"422 not naming the field: {unnamed[:3]}"
    return None


def multipart(filename: str | None, content: Any, *rest: Any) -> tuple[Any, ...]:
    return (filename, content if isinstance(content, str | bytes) else str(content), *rest)


def fuzz(system: System, loop: asyncio.AbstractEventLoop, service: str, callers: list[Identity]) -> list[str]:
    """Run the cases of every operation of `service` (in a worker thread; requests go to the
    services on the test's event loop); the problems found, each with a curl command."""
    schema = schemathesis.openapi.from_dict(system.apps[service].openapi())
    found: list[str] = []
    for result in schema.get_all_operations():
        for caller in callers:
            cases(system, loop, service, result.ok(), caller, found)
    return found


def cases(
    system: System, loop: asyncio.AbstractEventLoop, service: str, operation: Any, caller: Identity, found: list[str]
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def call(case: Case) -> None:
        kwargs = case.as_transport_kwargs(base_url=f"http://{service}")
        kwargs["headers"] = {**kwargs.get("headers", {}), **caller.headers()}
        kwargs.pop("cookies", None)
        if isinstance(kwargs.get("data"), bytes | str):  # a raw body, as httpx wants it named
            kwargs["content"] = kwargs.pop("data")
        if kwargs.get("files"):  # form fields as text, as a browser sends them (httpx wants str or bytes)
            kwargs["files"] = [(name, multipart(*part)) for name, part in kwargs["files"]]
        sent = system.clients[service].request(**kwargs)
        try:  # the in-process transport raises what the app did not handle: a 500 behind a server
            response = asyncio.run_coroutine_threadsafe(sent, loop).result(timeout=120)
        except Exception as exc:  # noqa: BLE001 - every unhandled error is a finding
            found.append(f"{case.method} {case.formatted_path}: 500 {exc!r:.300}\n  {case.as_curl_command()}")
            return
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        problem = problem_of(response.status_code, body)
        if problem:
            found.append(f"{case.method} {case.formatted_path}: {problem}\n  {case.as_curl_command()}")

    call()


async def test_no_operation_answers_a_server_error_and_every_422_names_its_fields(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan = (await system.post("/api/plans", json=QUARTERLY_PLAN)).json()
    await system.post(f"/api/plans/{plan['id']}/issue")
    await system.settled()
    callers = [OPERATOR, head("52")]
    loop = asyncio.get_running_loop()

    problems: list[str] = []
    for service in SERVICES:
        problems += await asyncio.to_thread(fuzz, system, loop, service, callers)

    assert problems == [], "\n".join(problems)


# --- what the fuzzing found, kept as regressions -------------------------------------------


async def test_a_nul_character_in_a_query_or_path_parameter_is_refused_naming_it(system: System) -> None:
    """PostgreSQL text cannot hold NUL: the query made of `unit=%00` was a 500."""
    in_query = await system.get("/api/assignments", params={"unit": "217\x0087", "period": "2026-Q1"})
    assert in_query.status_code == 422
    assert in_query.json()["detail"] == [{"field": "unit", "msg": "không được chứa ký tự NUL (%00)"}]
    in_path = await system.get("/api/units/52%00")
    assert in_path.status_code == 422 and in_path.json()["detail"][0]["field"] == "code"


async def test_a_lone_utf16_half_in_a_note_is_dropped_not_a_server_error(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan = (await system.post("/api/plans", json=QUARTERLY_PLAN)).json()
    await system.post(f"/api/plans/{plan['id']}/issue")
    found = await system.eventually(lambda: _assignments(system), timeout=30)
    stored = await system.post(
        f"/api/assignments/{found[0]['id']}/progress",
        content=b'{"period": "2026-Q1", "status": "done", "outputs": {"article": 1}, "note": "Tin \\udabb b\\u00e0i"}',
        headers={"content-type": "application/json"},
    )
    assert stored.status_code == 201, stored.text
    history = (await system.get(f"/api/assignments/{found[0]['id']}")).json()["history"]
    assert [h["note"] for h in history] == ["Tin  bài"]


async def _assignments(system: System) -> list[Any]:
    return (await system.get("/api/assignments", params={"unit": "21787", "period": "2026-Q1"})).json()["items"]


async def test_a_channel_named_twice_is_refused_naming_channels(system: System) -> None:
    refused = await system.post(
        "/api/notifications/contacts",
        json={"unit": "52", "name": "Văn phòng", "email": "vp@gialai.gov.vn", "channels": ["email", "email"]},
    )
    assert refused.status_code == 422
    assert [(p["field"], p["msg"]) for p in refused.json()["detail"]] == [("channels", "mỗi kênh chỉ nêu một lần")]


async def test_a_nul_in_a_login_name_is_a_refused_login_not_a_server_error(system: System) -> None:
    refused = await system.post("/api/auth/login", json={"username": "\x00lan", "password": "sai mật khẩu"}, as_=None)
    assert refused.status_code == 401, refused.text
