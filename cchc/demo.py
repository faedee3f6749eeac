"""`cchc demo`: the whole system as `cchc up` runs it, filled with a lived-in province — Gia Lai
(52), its 135 communes and their standard bodies, a province plan for this year cascaded to
commune plans (some communes have not issued theirs), a year of progress, periodic reports sent
up, accepted and returned, and an account for every role — then its logins are printed. The
story itself (who reports what, when) is in demo_data.py.

Everything is made through the public HTTP API, as another system would: the first national
admin makes an API token with every right (revoked at the end); the named communes' officers
and heads and the province head act with their own sessions, so their names are in the
history. Events flow as in production: assignments, roll-ups and notifications follow.

Running it again on the same data folder finds the province plan and only prints the logins."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cchc.client import fail
from cchc.credentials import admin_password_file
from cchc.demo_data import (
    ACCOUNTS,
    LAST,
    NAMED,
    PASSWORD,
    PLAN_NUMBER,
    PROVINCE,
    PROVINCE_HEAD,
    RETURN_REASON,
    TASKS,
    Account,
    Assignment,
    chance,
    commune_plan,
    photo,
    reports_for,
    submission,
    with_file,
)
from shared.access import Right
from shared.clock import Clock
from shared.periods import Period
from shared.settings import Settings
from shared.timelines import occurrences, parse_timeline

HANDED = [t for t in TASKS.values() if t.body]  # the tasks a commune's plan hands to its bodies
CONCURRENCY = 8  # API calls in flight at once: enough to keep two cores busy
ATTEMPTS = 6  # tries of a call the system answers busy, 2, 4 … 10 s apart
BUSY = (502, 503, 504)


# ---- the loading, through the API ---------------------------------------------------------------


@dataclass
class Loader:
    """The seeding: an all-rights client, the sessions of the named accounts, and the bars."""

    api: httpx.AsyncClient
    sessions: dict[str, httpx.AsyncClient]  # username → a client logged in as that account
    progress: Progress
    year: int
    today: date
    gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(CONCURRENCY))
    communes: list[dict[str, Any]] = field(default_factory=list)
    plan_id: str = ""

    def client_of(self, commune: str, role: str) -> httpx.AsyncClient:
        """Who acts for `commune`: its own account if it is a named commune, else the token."""
        return next((self.sessions[a.username] for a in ACCOUNTS if a.unit == commune and a.role == role), self.api)

    async def call(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        ok: Iterable[int] = (200, 201),
        made: Callable[[], Awaitable[Any]] | None = None,
        **kw: Any,
    ) -> Any:
        """One API call, its JSON answer. Busy (503, or no answer in time) is tried again later,
        as a careful client does; since the first try may have done its work after all, a 409
        then means done, `made`, if given, finds what a creation made before it is repeated, and a
        progress report sent twice is a correction that says the same."""
        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(2.0 * attempt)
                if made is not None and (found := await made()):
                    return found
            try:
                async with self.gate:
                    answer = await client.request(method, path, **kw)
            except httpx.TransportError as exc:
                problem = f"không có trả lời ({exc.__class__.__name__})"
                continue
            if answer.status_code in ok or (attempt and answer.status_code == 409):
                return answer.json() if answer.content else {}
            problem = f"{answer.status_code} {answer.text[:300]}"
            if answer.status_code not in BUSY:
                break
        raise fail(f"{method} {path}: {problem}")

    async def each(self, label: str, items: list[Any], step: Callable[[Any], Awaitable[None]]) -> None:
        """`step` for every item, CONCURRENCY at a time, under a bar named `label`."""
        bar = self.progress.add_task(label, total=len(items))

        async def one(item: Any) -> None:
            await step(item)
            self.progress.advance(bar)

        await asyncio.gather(*(one(item) for item in items))

    async def every(self, client: httpx.AsyncClient, path: str, **params: Any) -> list[Any]:
        """Every item of a list the API gives page by page (500 at most a page), following `next_cursor`."""
        items: list[Any] = []
        wanted = {**params, "limit": 500}
        while True:
            found = await self.call(client, "GET", path, params=wanted)
            items += found["items"]
            if not found.get("next_cursor"):
                return items
            wanted["cursor"] = found["next_cursor"]

    async def until(self, label: str, check: Callable[[], Awaitable[int]], total: int, patience: float = 120) -> None:
        """Wait, under a bar, until `check()` (what the system shows so far) reaches `total`."""
        bar = self.progress.add_task(label, total=total)
        deadline = time.monotonic() + patience
        while (seen := await check()) < total:
            self.progress.update(bar, completed=seen)
            if time.monotonic() > deadline:
                raise fail(f"{label}: sau {patience:.0f} giây mới có {seen}/{total}")
            await asyncio.sleep(0.5)
        self.progress.update(bar, completed=total)

    async def units(self) -> None:
        await self.call(self.api, "POST", "/api/units/load", json={"provinces": [PROVINCE]})
        self.communes = await self.every(self.api, "/api/units", parent=PROVINCE, level="commune")

        async def bodies(commune: dict[str, Any]) -> None:
            await self.call(self.api, "POST", f"/api/units/{commune['code']}/bodies/standard")

        await self.each("Cơ quan chuẩn của 135 xã, phường", self.communes, bodies)

    async def accounts(self) -> None:
        async def make(account: Account) -> None:
            body = {
                "username": account.username,
                "name": account.name,
                "unit": account.unit,
                "roles": [account.role],
                "password": PASSWORD,
            }
            await self.call(self.api, "POST", "/api/users", ok=(201, 409), json=body)

        await self.each("Tài khoản mẫu", list(ACCOUNTS), make)
        made = await asyncio.gather(*(session_of(str(self.api.base_url), a) for a in ACCOUNTS))
        self.sessions.update((a.username, client) for a, client in zip(ACCOUNTS, made, strict=True))

    async def province_plan(self) -> None:
        plan = {
            "number": PLAN_NUMBER,
            "title": f"Kế hoạch tuyên truyền cải cách hành chính năm {self.year} (dữ liệu mẫu)",
            "issuer": PROVINCE,
            "period": str(self.year),
            "date": f"{self.year}-01-20",
            "place": "Gia Lai",
            "purpose": "Nâng cao nhận thức của cán bộ, công chức và người dân về cải cách hành chính.",
            "implementing_due": f"{self.year}-02-28",
            "tasks": [t.json(["children"], []) for t in TASKS.values()],
        }
        self.plan_id = (await self.call(self.api, "POST", "/api/plans", json=plan, made=self.demo_plan))["id"]
        await self.call(self.api, "POST", f"/api/plans/{self.plan_id}/issue")
        await self.until("Nhiệm vụ giao cho các xã", self.assignment_count, self.expected(self.communes, "children"))

    async def commune_plans(self) -> None:
        async def make(commune: dict[str, Any]) -> None:
            code, kind = commune["code"], commune_plan(commune["code"])
            if kind == "none":
                return
            tasks = [t.json([f"{code}-{t.body}"], [f"{code}-{t.helper}"] if t.helper else []) for t in HANDED]
            plan = {
                "number": f"{int(chance(code, 'number') * 90) + 10}/KH-UBND" if kind == "issued" else "",
                "title": f"Kế hoạch tuyên truyền cải cách hành chính năm {self.year} của {commune['name']}",
                "issuer": code,
                "period": str(self.year),
                "parent_plan": self.plan_id,
                "tasks": tasks,
            }
            client = self.client_of(code, "head")

            async def earlier() -> Any:
                found = await self.call(client, "GET", "/api/plans", params={"issuer": code})
                return next((p for p in found["items"] if p["parent_plan"] == self.plan_id), None)

            made = await self.call(client, "POST", "/api/plans", json=plan, made=earlier)
            if kind == "issued":
                await self.call(client, "POST", f"/api/plans/{made['id']}/issue")

        await self.each("Kế hoạch thực hiện của các xã", self.communes, make)
        issued = [c for c in self.communes if commune_plan(c["code"]) == "issued"]
        total = self.expected(self.communes, "children") + self.expected(issued, "bodies")
        await self.until("Nhiệm vụ giao cho các cơ quan của xã", self.assignment_count, total)

    async def demo_plan(self) -> Any:
        found = await self.every(self.api, "/api/plans", issuer=PROVINCE)
        return next((p for p in found if p["number"] == PLAN_NUMBER), None)

    def expected(self, communes: list[dict[str, Any]], who: Literal["children", "bodies"]) -> int:
        """How many assignments the plans call for: an occurrence per task and responsible unit."""
        year = Period("year", self.year)
        per_unit = {ref: len(occurrences(parse_timeline(t.timeline), year)) for ref, t in TASKS.items()}
        if who == "children":
            return len(communes) * sum(per_unit.values())
        return len(communes) * sum(per_unit[t.ref] * (2 if t.helper else 1) for t in HANDED)

    async def assignment_count(self) -> int:
        return len(await self.assignments())

    async def assignments(self) -> list[Any]:
        return await self.every(self.api, "/api/assignments", within=PROVINCE)

    async def reports(self) -> tuple[int, int]:
        """Report progress as the scenario says; (assignments reported, of them done)."""
        leads = [Assignment.of(a) for a in await self.assignments() if a["role"] == "lead"]
        planned = [(a, reports_for(a, self.today)) for a in leads]
        planned = [(a, r) for a, r in planned if r]

        async def report(item: tuple[Assignment, list[dict[str, Any]]]) -> None:
            assignment, bodies = item
            client = self.client_of(assignment.commune, "officer")
            for body in bodies:
                if body["status"] == "done" and with_file(assignment):
                    body = {**body, "evidence": [*body.get("evidence", []), await self.upload(client, assignment)]}
                await self.call(client, "POST", f"/api/assignments/{assignment.id}/progress", json=body)

        await self.each("Báo cáo tiến độ (một năm)", planned, report)
        return len(planned), sum(1 for _, r in planned if r[-1]["status"] == "done")

    async def upload(self, client: httpx.AsyncClient, assignment: Assignment) -> dict[str, Any]:
        name = f"anh-{assignment.unit.lower()}-{assignment.period.lower()}.png"
        files = {"file": (name, photo(assignment.id), "image/png")}
        stored = await self.call(client, "POST", f"/api/assignments/{assignment.id}/evidence", files=files)
        return {"kind": "file", "file_id": stored["id"]}

    async def rolled_up(self, reported: int, done: int) -> None:
        """Wait until the province roll-up counts every report (the periodic reports are sent
        with the figures as they stand, and accepted only if they did not move since)."""

        async def counted() -> int:
            figures = await self.call(
                self.api, "GET", "/api/reports/rollup", params={"unit": PROVINCE, "period": str(self.year)}
            )
            states = figures["states"]
            return min(figures["reported"], reported) + min(states["done_on_time"] + states["done_late"], done)

        await self.until("Tổng hợp số liệu của tỉnh", counted, reported + done)

    async def submissions(self) -> None:
        head = self.sessions[PROVINCE_HEAD.username]
        work = [(c["code"], p) for p in ("Q1", "9M") for c in self.communes if submission(c["code"], p) != "none"]
        work.remove(LAST)

        async def send(item: tuple[str, str]) -> None:
            code, suffix = item
            fate, where = submission(code, suffix), f"/api/reports/{code}/{self.year}-{suffix}"
            own = self.client_of(code, "head")
            number = {"number": f"{int(chance(code, suffix) * 90) + 10}/BC-UBND"}
            await self.call(own, "POST", f"{where}/submit", json=number)
            if fate in ("returned", "resubmitted"):
                await self.call(head, "POST", f"{where}/return", json={"reason": RETURN_REASON})
            if fate == "resubmitted":
                await self.call(own, "POST", f"{where}/submit", json=number)
            if fate in ("accepted", "resubmitted"):
                await self.call(head, "POST", f"{where}/accept", json={})

        await self.each("Báo cáo định kỳ gửi tỉnh (quý I, 9 tháng)", work, send)
        await send(LAST)  # last of all: a second run takes it as the sign that the loading finished


async def session_of(base_url: str, account: Account) -> httpx.AsyncClient:
    """A client logged in as `account` (its session token as the bearer)."""
    client = httpx.AsyncClient(base_url=base_url, timeout=120)
    answer = await client.post("/api/auth/login", json={"username": account.username, "password": PASSWORD})
    if answer.status_code != 200:
        await client.aclose()
        raise fail(f"không đăng nhập được tài khoản mẫu {account.username}: {answer.status_code} {answer.text[:200]}")
    client.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return client


# ---- the command --------------------------------------------------------------------------------


class Demo:
    """What `cchc demo` does once the system serves: load the demo data unless it is there, then
    print the address and the logins."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.console = Console(width=None if Console().is_terminal else 120)

    async def load(self, base_url: str) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            await healthy(client)
            state = await self.state(client)
            if state == "partial":
                raise fail(
                    f"dữ liệu mẫu trong {self.data_dir} chưa nạp xong ở lần chạy trước (bị dừng giữa chừng); "
                    "xóa thư mục đó hoặc chọn --data-dir khác rồi chạy lại cchc demo"
                )
            if state == "fresh":
                started = time.monotonic()
                await self.seed(client)
                self.say(f"Đã nạp dữ liệu mẫu trong {time.monotonic() - started:.0f} giây.")
            else:
                self.say(f"Dữ liệu mẫu đã có trong {self.data_dir} (kế hoạch {PLAN_NUMBER}): không nạp lại.")
        self.print_logins(base_url)

    async def state(self, client: httpx.AsyncClient) -> Literal["fresh", "partial", "seeded"]:
        """Fresh: no demo plan yet (what an interrupted run made before the plan is made again
        without duplicates). Seeded: the plan and the last step's reports are there."""
        login = await client.post("/api/auth/login", json={"username": PROVINCE_HEAD.username, "password": PASSWORD})
        if login.status_code != 200:
            return "fresh"
        as_head = {"Authorization": f"Bearer {login.json()['token']}"}
        plans = await client.get("/api/plans", params={"issuer": PROVINCE, "q": PLAN_NUMBER}, headers=as_head)
        plan = next((p for p in plans.json()["items"] if p["number"] == PLAN_NUMBER), None)
        if plan is None:
            return "fresh"
        code, suffix = LAST
        sent = await client.get(f"/api/reports/{code}/{plan['period']}-{suffix}/submissions", headers=as_head)
        return "seeded" if sent.status_code == 200 and sent.json()["count"] else "partial"

    async def seed(self, client: httpx.AsyncClient) -> None:
        token, token_id = await self.operator_token(client)
        today = Clock().today_vn()
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=client.base_url, timeout=120, headers=headers) as api:
            with Progress(*columns, console=self.console) as progress:
                loader = Loader(api, {}, progress, today.year, today)
                try:
                    await loader.units()
                    await loader.accounts()
                    await loader.province_plan()
                    await loader.commune_plans()
                    reported, done = await loader.reports()
                    await loader.rolled_up(reported, done)
                    await loader.submissions()
                finally:
                    for session in loader.sessions.values():
                        await session.aclose()
            await api.delete(f"/api/tokens/{token_id}")

    async def operator_token(self, client: httpx.AsyncClient) -> tuple[str, str]:
        """An API token with every right over the country, made by the first national admin."""
        password = Settings().secret("admin_password")
        where = admin_password_file(self.data_dir)
        if not password and where.exists():
            password = where.read_text().strip()
        login = await client.post("/api/auth/login", json={"username": "admin", "password": password or ""})
        if login.status_code != 200:
            raise fail(
                "cần mật khẩu của tài khoản quản trị đầu tiên (admin) để nạp dữ liệu mẫu: đặt CCHC_ADMIN_PASSWORD "
                "hoặc chạy cchc demo trên một thư mục dữ liệu mới (--data-dir)"
            )
        as_admin = {"Authorization": f"Bearer {login.json()['token']}"}
        body = {"name": "Nạp dữ liệu mẫu (cchc demo)", "unit": "*", "rights": [r.value for r in Right]}
        made = await client.post("/api/tokens", json=body, headers=as_admin)
        if made.status_code != 201:
            raise fail(f"không tạo được mã truy cập để nạp dữ liệu mẫu: {made.status_code} {made.text[:200]}")
        return made.json()["token"], made.json()["id"]

    def say(self, text: str) -> None:
        """A line as it is (a path or an address is not cut by wrapping)."""
        self.console.print(text, soft_wrap=True, highlight=False)

    def print_logins(self, base_url: str) -> None:
        table = Table(title="Tài khoản mẫu (dữ liệu mẫu, không dùng cho hệ thống thật)")
        for column in ("Tên đăng nhập", "Mật khẩu", "Vai trò", "Đơn vị"):
            table.add_column(column, no_wrap=True)
        for a in ACCOUNTS:
            unit = "Tỉnh Gia Lai (52)" if a.unit == PROVINCE else f"{NAMED[a.unit]} ({a.unit})"
            table.add_row(a.username, PASSWORD, a.title, unit)
        self.console.print(table)
        self.say(
            f"Mở {base_url} và đăng nhập bằng một tài khoản ở trên. Đây là DỮ LIỆU MẪU của tỉnh Gia Lai "
            "(135 xã, phường; kế hoạch, tiến độ và báo cáo năm nay). Nhấn Ctrl-C để dừng."
        )


async def healthy(client: httpx.AsyncClient, patience: float = 120) -> None:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.3)
    raise fail(f"hệ thống chưa sẵn sàng sau {patience:.0f} giây (xem nhật ký trong thư mục dữ liệu)")
