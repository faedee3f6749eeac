"""The load generator: several clients drive the public HTTP API as officials would during a
reporting rush — progress reports and their corrections, plans issued and amended, periodic
reports submitted, returned and accepted — and log every request's outcome, Jepsen style:

- ok: 2xx, the write happened;
- failed: 4xx, certainly not applied (a 409 for a step the state no longer allows, say);
- unknown: a timeout, a dropped connection or a 5xx — it may or may not have been applied.

Every key (an assignment, a unit's periodic report, a plan) belongs to one client, so its
operations are in a known order; the checker (tests/faults/checker.py) then decides which final
states that order allows."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.e2e.steps import THIS_YEAR, until_answered

YEAR = THIS_YEAR  # the base plan's year: the load reports on its last quarter
PERIOD = f"{YEAR}-Q4"
SUBMITTED_PERIOD = f"{YEAR}-Q3"  # the periodic report the communes submit (its quarter is over)
PROVINCE = "52"
ONCE = f"Trước ngày 31/03/{YEAR + 1}"  # the plans the load issues: one due date, one assignment per commune


@dataclass
class Op:
    client: int
    kind: str  # report | submit | accept | return | create | issue | amend
    key: str  # the assignment id, the unit code, the plan id
    value: Any
    outcome: str = ""  # ok | failed | unknown
    status: int | None = None
    answer: Any = None


@dataclass
class History:
    ops: list[Op] = field(default_factory=list)

    def of(self, kind: str | tuple[str, ...]) -> list[Op]:
        kinds = (kind,) if isinstance(kind, str) else kind
        return [op for op in self.ops if op.kind in kinds]

    def outcomes(self) -> Counter[str]:
        return Counter(op.outcome for op in self.ops)


def quarterly_plan(
    year: int, number: str, *, title: str = "Đăng tin, bài về cải cách hành chính", timeline: str = "Định kỳ 01 lần/quý"
) -> dict[str, Any]:
    """A province plan with one task led by every commune (shaped like the seeds)."""
    return {
        "number": number,
        "title": f"Kế hoạch tuyên truyền cải cách hành chính năm {year} (kiểm thử sự cố)",
        "issuer": PROVINCE,
        "period": str(year),
        "tasks": [
            {
                "ref": "1",
                "title": title,
                "lead": ["children"],
                "coordinating": [],
                "timeline": timeline,
                "products": [{"kind": "article", "target": 1}, {"kind": "video", "target": 0}],
            }
        ],
    }


async def call(client: httpx.AsyncClient, history: History, op: Op, method: str, url: str, **kwargs: Any) -> Op:
    """Make the request and log its outcome."""
    history.ops.append(op)
    try:
        answer = await client.request(method, url, **kwargs)
    except (httpx.TransportError, TimeoutError):
        op.outcome = "unknown"
        return op
    op.status = answer.status_code
    if answer.status_code < 300:
        op.outcome = "ok"
        op.answer = answer.json() if answer.content else None
    elif answer.status_code < 500 and answer.status_code not in (408, 429):
        op.outcome = "failed"
    else:
        op.outcome = "unknown"
    return op


@dataclass
class World:
    """What the load works on: the base plan's assignment per commune, in the deployment."""

    plan_id: str
    assignments: dict[str, str]  # commune code → assignment id (PERIOD)
    communes: list[str]
    # every operation on this world so far, across runs: the checker needs each key's whole story
    history: History = field(default_factory=History)
    reports: Counter[str] = field(default_factory=Counter)  # reports sent per assignment so far


async def build_world(client: httpx.AsyncClient, number: str = "01/KH-SC") -> World:
    """Province 52 with its 135 communes, a base plan issued, and e-mail contacts for some
    communes (their notices go to the test's SMTP server)."""
    loaded = await client.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": [PROVINCE]})
    assert loaded.status_code == 200, loaded.text
    communes = [c["code"] for c in await all_items(client, "/api/units", {"parent": PROVINCE})]
    for code in communes[:6]:
        contact = {
            "unit": code,
            "name": f"Văn phòng UBND xã {code}",
            "email": f"vanphong.{code}@example.gov.vn",
            "channels": ["email"],
        }
        answer = await retry(lambda body=contact: client.post("/api/notifications/contacts", json=body))
        assert answer.status_code == 201, answer.text
    created = await client.post("/api/plans", json=quarterly_plan(YEAR, number))
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]
    issued = await client.post(f"/api/plans/{plan_id}/issue")
    assert issued.status_code == 200, issued.text
    assignments: dict[str, str] = {}
    deadline = time.monotonic() + 180
    while len(assignments) < len(communes):
        assert time.monotonic() < deadline, f"{len(assignments)} of {len(communes)} assignments made"
        found = await all_items(client, "/api/assignments", {"within": PROVINCE, "plan": plan_id, "period": PERIOD})
        for item in found:
            assignments[item["unit"]["code"] if isinstance(item["unit"], dict) else item["unit"]] = item["id"]
        await asyncio.sleep(1)
    return World(plan_id, assignments, communes)


async def retry(request: Any) -> httpx.Response:
    return await until_answered(request, tries=60, pause=1.0)


async def all_items(client: httpx.AsyncClient, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of a paged list (retried while a fault makes it answer 5xx)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        asked = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        answer = await retry(lambda asked=asked: client.get(url, params=asked))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return items


class Load:
    """Clients working until `stop` is set: `reporters` report progress on their own share of
    the assignments (each report a correction of the one before), one client submits, returns
    and accepts its share of the communes' periodic reports, one creates, issues and amends
    plans."""

    def __init__(self, deployment: Any, world: World, *, seed: int, reporters: int = 4) -> None:
        self.deployment, self.world, self.history = deployment, world, world.history
        self.rng = random.Random(seed)
        self.reporters = reporters
        self.stop = asyncio.Event()
        self.going = asyncio.Event()  # cleared: the clients pause (to see the system idle mid-fault)
        self.going.set()
        self.counter = world.reports
        self.plans = 0

    async def run(self, seconds: float | None = None) -> None:
        """Until `stop` is set (or for `seconds`)."""
        if seconds is not None:
            asyncio.get_running_loop().call_later(seconds, self.stop.set)
        communes = self.world.communes
        shares = [communes[i :: self.reporters + 1] for i in range(self.reporters + 1)]
        await asyncio.gather(
            *(self._reporter(i, shares[i]) for i in range(self.reporters)),
            self._decider(self.reporters, shares[self.reporters]),
            self._planner(self.reporters + 1),
        )

    async def _pause(self) -> None:
        await asyncio.sleep(self.rng.uniform(0.02, 0.1))
        await self.going.wait()

    async def _reporter(self, index: int, communes: list[str]) -> None:
        async with self.deployment.client(timeout=10) as client:
            while not self.stop.is_set():
                code = self.rng.choice(communes)
                assignment = self.world.assignments[code]
                self.counter[assignment] += 1
                n = self.counter[assignment]
                value = {"status": "done" if n % 3 else "in_progress", "outputs": {"article": n, "video": n % 4}}
                op = Op(index, "report", assignment, value)
                await call(
                    client,
                    self.history,
                    op,
                    "POST",
                    f"/api/assignments/{assignment}/progress",
                    json={"period": PERIOD, **value, "note": f"Báo cáo lần {n} của xã {code}"},
                )
                await self._pause()

    async def _decider(self, index: int, communes: list[str]) -> None:
        url = "/api/reports/{unit}/" + SUBMITTED_PERIOD
        async with self.deployment.client(timeout=10) as client:
            while not self.stop.is_set():
                code = self.rng.choice(communes)
                step = self.rng.choice(["submit", "submit", "accept", "return"])
                body: dict[str, Any] = {}
                if step == "return":
                    body = {"reason": "Số liệu chưa khớp với báo cáo của phòng chuyên môn, đề nghị rà soát"}
                op = Op(index, step, code, None)
                await call(client, self.history, op, "POST", url.format(unit=code) + f"/{step}", json=body)
                await self._pause()

    async def _planner(self, index: int) -> None:
        async with self.deployment.client(timeout=30) as client:
            while not self.stop.is_set():
                self.plans += 1
                number = f"{100 + self.plans}/KH-SC{index}"
                created = await call(
                    client,
                    self.history,
                    Op(index, "create", number, None),
                    "POST",
                    "/api/plans",
                    json=quarterly_plan(YEAR + 1, number, timeline=ONCE),
                )
                if created.outcome != "ok":
                    await asyncio.sleep(1)
                    continue
                plan_id = created.answer["id"]
                await call(
                    client, self.history, Op(index, "issue", plan_id, None), "POST", f"/api/plans/{plan_id}/issue"
                )
                for version in (2,):
                    if self.stop.is_set():
                        break
                    await asyncio.sleep(self.rng.uniform(1, 3))
                    await self.going.wait()
                    title = f"Đăng tin, bài về cải cách hành chính (điều chỉnh lần {version - 1})"
                    await call(
                        client,
                        self.history,
                        Op(index, "amend", plan_id, title),
                        "POST",
                        f"/api/plans/{plan_id}/amend",
                        json=quarterly_plan(YEAR + 1, number, title=title, timeline=ONCE),
                    )
                await asyncio.sleep(self.rng.uniform(4, 8))
                await self.going.wait()
