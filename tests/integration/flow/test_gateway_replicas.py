"""The gateway in front of several replicas of a service (`cchc up --replicas`, or comma-separated
CCHC_UPSTREAM_*): requests are taken in turn by the replicas that listen, and a replica that
refuses the connection (killed, restarting) is passed over — real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cchc.gateway import create_gateway
from shared.servers import free_port
from shared.settings import Settings

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def replica(name: str) -> AsyncIterator[str]:
    """An HTTP server that answers every /api path with its own name."""

    async def answer(request: Request) -> JSONResponse:
        return JSONResponse({"replica": name, "path": request.url.path})

    app = Starlette(routes=[Route("/api/{rest:path}", answer, methods=["GET", "POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 — uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def answered_by(upstreams: dict[str, list[str]], requests: int) -> list[str]:
    gateway = create_gateway(upstreams, Settings(public_url="http://127.0.0.1:8000"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://127.0.0.1") as client:
        answers = [await client.post("/api/assignments/x/progress", json={}) for _ in range(requests)]
    assert [a.status_code for a in answers] == [200] * requests, [a.text for a in answers]
    return [a.json()["replica"] for a in answers]


def others(tasks: list[str]) -> dict[str, list[str]]:
    return {"plans": ["http://127.0.0.1:9"], "tasks": tasks, "notify": ["http://127.0.0.1:9"], "reports": tasks}


async def test_requests_are_taken_in_turn_by_the_replicas() -> None:
    async with replica("tasks-1") as one, replica("tasks-2") as two:
        seen = await answered_by(others([one, two]), 6)
    assert sorted(set(seen)) == ["tasks-1", "tasks-2"]
    assert all(a != b for a, b in zip(seen, seen[1:], strict=False))  # in turn


async def test_a_replica_that_refuses_the_connection_is_passed_over() -> None:
    refused = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the connection is refused
    async with replica("tasks-2") as alive:
        seen = await answered_by(others([refused, alive]), 6)
    assert seen == ["tasks-2"] * 6


async def test_when_no_replica_answers_the_gateway_says_which_service_is_away() -> None:
    refused = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    gateway = create_gateway(others(refused), Settings(public_url="http://127.0.0.1:8000"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://127.0.0.1") as client:
        answer = await client.post("/api/assignments/x/progress", json={})
    assert answer.status_code == 503
    assert answer.json()["service"] == "tasks" and "tạm thời không phản hồi" in answer.json()["detail"]
    assert answer.headers["retry-after"] == "2"
