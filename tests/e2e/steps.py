"""Steps the e2e tests share: a quarterly plan for a given year, issuing it, and polling the API."""

from __future__ import annotations

import asyncio
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


async def eventually(check: Any, timeout: float = 30.0) -> Any:  # noqa: ASYNC109 - a polling deadline
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
