"""Steps the e2e tests share: a quarterly plan for a given year, issuing it, polling the API, and a
province's communes all reporting their quarter while something happens to the system."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

from shared.clock import VN

THIS_YEAR = datetime.now(VN).year


def quarterly_plan(year: int, number: str) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"Kế hoạch tuyên truyền cải cách hành chính tỉnh Gia Lai năm {year}",
        "issuer": "52",
        "period": str(year),
        "tasks": [
            {
                "ref": "1",
                "title": "Gửi tin, bài về kết quả thực hiện cải cách hành chính",
                "lead": ["children"],
                "coordinating": [],
                "timeline": "Định kỳ 01 lần/quý",
                "products": [{"kind": "article", "target": 1}],
            }
        ],
    }


async def eventually(check: Any, timeout: float = 120.0) -> Any:  # noqa: ASYNC109 - a polling deadline
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"not reached within {timeout}s; last: {last!r}")


async def issue(api: httpx.AsyncClient, plan: dict[str, Any]) -> str:
    created = await api.post("/api/plans", json=plan)
    assert created.status_code == 201, created.text
    plan_id: str = created.json()["id"]
    issued = await api.post(f"/api/plans/{plan_id}/issue")
    assert issued.status_code == 200, issued.text
    return plan_id


async def until_answered(request: Any, *, tries: int, pause: float) -> httpx.Response:
    """What a real client does while a service restarts or a server is away: make the request
    again on 5xx and dropped connections, `pause` seconds apart."""
    for _ in range(tries):
        try:
            response = await request()
        except httpx.TransportError:
            await asyncio.sleep(pause)
            continue
        if response.status_code < 500:
            return response
        await asyncio.sleep(pause)
    raise AssertionError(f"never answered after {tries} tries")


async def post_until_accepted(client: httpx.AsyncClient, url: str, body: dict, *, tries: int = 200) -> httpx.Response:
    return await until_answered(lambda: client.post(url, json=body), tries=tries, pause=0.1)


async def province_assignments(api: httpx.AsyncClient, year: int, number: str) -> dict[str, str]:
    """Province 52 loaded and a quarterly plan issued for `year`: each of its 135 communes'
    assignment of the second quarter (commune code → assignment id)."""
    await api.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
    await issue(api, quarterly_plan(year, number))
    communes = [c["code"] for c in (await api.get("/api/units", params={"parent": "52"})).json()["items"]]

    async def assignment_of(code: str) -> str | None:
        items = (await api.get("/api/assignments", params={"unit": code, "period": f"{year}-Q2"})).json()["items"]
        return items[0]["id"] if items else None

    await eventually(lambda: assignment_of(communes[-1]))
    return {code: str(await assignment_of(code)) for code in communes}


async def report_burst(
    api: httpx.AsyncClient, targets: dict[str, str], year: int, *, midway: Callable[[], Awaitable[None]]
) -> None:
    """Every commune reports its quarter done (one article, a video every other commune), eight at
    a time and retrying through a restart as a client would; `midway` runs once 40 are accepted."""
    gate = asyncio.Semaphore(8)
    accepted: list[str] = []

    async def report(index: int, code: str) -> None:
        async with gate:
            response = await post_until_accepted(
                api,
                f"/api/assignments/{targets[code]}/progress",
                {"period": f"{year}-Q2", "status": "done", "outputs": {"article": 1, "video": index % 2}},
            )
            assert response.status_code == 201, response.text
            accepted.append(code)

    async def when_midway() -> None:
        while len(accepted) < 40:  # noqa: ASYNC110 - polling the shared list is the point
            await asyncio.sleep(0.01)
        await midway()

    await asyncio.gather(when_midway(), *(report(index, code) for index, code in enumerate(targets)))


def burst_outputs(communes: int) -> dict[str, int]:
    """The province's outputs once all of `report_burst`'s reports are rolled up, each once."""
    return {"article": communes, "video": sum(index % 2 for index in range(communes))}


async def all_rolled_up(api: httpx.AsyncClient, year: int) -> dict[str, Any] | None:
    """The province's roll-up of the second quarter once every commune's report is in it."""
    answer = await api.get("/api/reports/rollup", params={"unit": "52", "period": f"{year}-Q2"})
    body: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
    return body if body.get("reported") == 135 else None
