"""`cchc demo` in a subprocess, as a newcomer runs it: it loads Gia Lai's lived-in year through
the API, prints logins that work, and a second run on the same data folder adds nothing."""

from __future__ import annotations

import subprocess
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from cchc.demo_data import ACCOUNTS, LAST, PASSWORD, PLAN_NUMBER, PROVINCE, TASKS
from shared.clock import Clock
from shared.periods import Period
from shared.servers import free_port
from shared.timelines import occurrences, parse_timeline
from tests.e2e.conftest import CCHC, Running, operated

pytestmark = pytest.mark.e2e
READY = "Mở http://"  # the line after the logins table
PATIENCE = 600.0  # seconds; about two minutes on a quiet 2-core machine, more when it is shared


def start_demo(data_dir: Path, env: dict[str, str]) -> tuple[Running, str]:
    """`cchc demo` on a free port, once it has printed its logins; and what it printed."""
    port = free_port()
    output = data_dir.parent / f"demo-{port}.log"
    proc = subprocess.Popen(
        [*CCHC, "demo", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=output.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Running(f"http://127.0.0.1:{port}", data_dir, proc, output)
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        printed = output.read_text()
        if READY in printed:
            return running, printed
        if proc.poll() is not None:
            raise AssertionError(f"cchc demo exited {proc.returncode}:\n{printed}")
        time.sleep(0.5)
    running.stop()
    raise AssertionError(f"cchc demo printed no logins within {PATIENCE:.0f}s:\n{output.read_text()}")


def possible_states(today: date) -> set[str]:
    """The follow-up states the demo's plan can show today: late and overdue once a due date
    has passed, on time and in progress while an occurrence is open."""
    year = Period("year", today.year)
    found = [o for t in TASKS.values() for o in occurrences(parse_timeline(t.timeline), year)]
    states = set()
    if any(o.due < today for o in found):
        states |= {"done_late", "overdue"}
    if any(o.period.start <= today <= o.due for o in found):
        states |= {"done_on_time", "in_progress"}
    return states


async def every(api: httpx.AsyncClient, path: str, **params: str) -> list[dict]:
    """Every item of a list, page by page (500 at most a page), following `next_cursor`."""
    items: list[dict] = []
    wanted = {**params, "limit": "500"}
    while True:
        found = (await api.get(path, params=wanted)).json()
        items += found["items"]
        if not found["next_cursor"]:
            return items
        wanted["cursor"] = found["next_cursor"]


async def demo_plan(api: httpx.AsyncClient) -> dict:
    plans = await every(api, "/api/plans", issuer=PROVINCE)
    found = [p for p in plans if p["number"] == PLAN_NUMBER]
    assert len(found) == 1, plans
    return found[0]


async def counts(api: httpx.AsyncClient) -> dict[str, int]:
    """What a second run must not have added to."""
    plans = await every(api, "/api/plans", within=PROVINCE)
    users = await every(api, "/api/users", within=PROVINCE)
    assignments = await every(api, "/api/assignments", within=PROVINCE)
    return {"plans": len(plans), "users": len(users), "assignments": len(assignments)}


async def test_demo_loads_a_lived_in_province_prints_working_logins_and_loads_nothing_twice(
    data_dir: Path, up_env: dict[str, str]
) -> None:
    running, printed = start_demo(data_dir, up_env)
    try:
        for account in ACCOUNTS:
            assert account.username in printed
        assert PASSWORD in printed and "DỮ LIỆU MẪU" in printed
        async with await operated(running.base_url) as api:
            communes = (await api.get("/api/units", params={"parent": PROVINCE, "level": "commune"})).json()
            assert communes["count"] == 135
            plan = await demo_plan(api)
            assert plan["status"] == "issued"
            tree = (await api.get(f"/api/plans/{plan['id']}/tree")).json()
            assert tree["obligations"]["expected"] == 135
            assert 135 * 0.6 < tree["obligations"]["issued"] < 135, tree["obligations"]  # most, not all
            assert tree["not_issued"]

            year = plan["period"]
            rollup = (await api.get("/api/reports/rollup", params={"unit": PROVINCE, "period": year})).json()
            present = {state for state, n in rollup["states"].items() if n}
            assert possible_states(Clock().today_vn()) <= present, rollup["states"]
            assert rollup["outputs"], rollup

            returned = (await api.get(f"/api/reports/21787/{year}-9M/submissions")).json()["items"]
            accepted = (await api.get(f"/api/reports/21787/{year}-Q1/submissions")).json()["items"]
            waiting = (await api.get(f"/api/reports/{LAST[0]}/{year}-{LAST[1]}/submissions")).json()["items"]
            assert returned[0]["status"] == "returned" and returned[0]["reason"]
            assert accepted[0]["status"] == "accepted"
            assert waiting[0]["status"] == "submitted"
            before = await counts(api)

        async with httpx.AsyncClient(base_url=running.base_url, timeout=30) as anyone:
            login = await anyone.post("/api/auth/login", json={"username": ACCOUNTS[0].username, "password": PASSWORD})
            assert login.status_code == 200, login.text
            assert login.json()["user"]["unit_path"] == PROVINCE
    finally:
        running.stop()

    again, printed = start_demo(data_dir, up_env)
    try:
        assert "không nạp lại" in printed
        assert all(account.username in printed for account in ACCOUNTS)
        async with await operated(again.base_url) as api:
            assert await counts(api) == before
            await demo_plan(api)
    finally:
        again.stop()
