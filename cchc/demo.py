"""`cchc demo`: the whole system as `cchc up` runs it, filled with a lived-in province — Gia Lai
(52), its 135 communes and their standard bodies, a province plan for this year cascaded to
commune plans (some communes have not issued theirs), a year of progress, periodic reports sent
up, accepted and returned, and an account for every role — then its logins are printed.

Everything is made through the public HTTP API, as another system would: the first national
admin makes an API token with every right (revoked at the end); the named communes' officers
and heads and the province head act with their own sessions, so their names are in the
history. Events flow as in production: assignments, roll-ups and notifications follow.

Time is the real time: the services date every report "now" (there is no clock setting). So a
report for an occurrence whose due date has passed counts as late, one for an occurrence still
open (this quarter, this half) as on time, an occurrence not reported is overdue or in
progress. Before the first due date of the year (mid-April) there is nothing late yet.

Running it again on the same data folder finds the province plan and only prints the logins."""

from __future__ import annotations

import asyncio
import hashlib
import struct
import time
import zlib
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
from shared.access import Right
from shared.clock import Clock
from shared.periods import Period
from shared.settings import Settings
from shared.timelines import occurrences, parse_timeline

PROVINCE = "52"
PLAN_NUMBER = "15/KH-UBND"
PASSWORD = "cchc-demo-2026"  # every demo account's: it is a demo, printed on purpose
CONCURRENCY = 12  # API calls in flight at once: enough to keep two cores busy
Temperament = Literal["diligent", "slow", "silent"]


@dataclass(frozen=True)
class Account:
    username: str
    name: str
    unit: str
    role: Literal["head", "admin", "auditor", "officer"]
    title: str  # what the logins table says of it


NAMED = {"21787": "Xã Vĩnh Sơn", "21796": "Xã Vĩnh Thịnh", "21583": "Phường Quy Nhơn"}
ACCOUNTS = (
    Account("tinh.lanhdao", "Nguyễn Văn Tỉnh", PROVINCE, "head", "Lãnh đạo UBND tỉnh"),
    Account("tinh.quantri", "Trần Thị Quản", PROVINCE, "admin", "Quản trị cấp tỉnh"),
    Account("tinh.thanhtra", "Võ Minh Tra", PROVINCE, "auditor", "Thanh tra cấp tỉnh"),
    Account("vinhson.chutich", "Lê Văn Sơn", "21787", "head", "Chủ tịch UBND xã"),
    Account("vinhson.canbo", "Phạm Thị Hòa", "21787", "officer", "Công chức Văn hóa - Xã hội"),
    Account("vinhthinh.chutich", "Đinh Văn Thịnh", "21796", "head", "Chủ tịch UBND xã"),
    Account("vinhthinh.canbo", "Huỳnh Thị Mai", "21796", "officer", "Công chức Văn hóa - Xã hội"),
    Account("quynhon.chutich", "Trương Văn Nhơn", "21583", "head", "Chủ tịch UBND phường"),
    Account("quynhon.canbo", "Ngô Thị Lan", "21583", "officer", "Công chức Văn hóa - Xã hội"),
)
PROVINCE_HEAD = ACCOUNTS[0]


@dataclass(frozen=True)
class DemoTask:
    """A task of the province plan, led by every commune; in a commune's own plan, by its body
    `body` (a standard body's tag), with `helper` coordinating."""

    ref: str
    title: str
    timeline: str
    products: dict[str, int]
    area: str
    channels: tuple[str, ...]
    body: str
    helper: str | None = None

    def json(self, lead: list[str], coordinating: list[str]) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "title": self.title,
            "lead": lead,
            "coordinating": coordinating,
            "timeline": self.timeline,
            "products": [{"kind": k, "target": n} for k, n in self.products.items()],
            "area": self.area,
            "channels": list(self.channels),
        }


TASKS = {
    t.ref: t
    for t in (
        DemoTask(
            "1",
            "Đăng tin, bài tuyên truyền về cải cách hành chính trên Trang thông tin điện tử của xã",
            "Định kỳ 01 lần/quý",
            {"news": 3, "article": 1},
            "general",
            ("portal",),
            "VHXH",
        ),
        DemoTask(
            "2",
            "Phát chuyên mục cải cách hành chính, Đề án 06 và dịch vụ công trực tuyến trên đài truyền thanh xã",
            "Định kỳ 6 tháng",
            {"broadcast": 24},
            "digital_government",
            ("radio",),
            "TTDVC",
        ),
        DemoTask(
            "3",
            "Đối thoại với người dân, doanh nghiệp về giải quyết thủ tục hành chính một cửa, một cửa liên thông",
            "Định kỳ 6 tháng",
            {"dialogue": 1, "participants": 80},
            "procedures",
            ("dialogue",),
            "TTPVHCC",
            helper="VP",
        ),
    )
}
NOTES = (
    "Đã đăng trên trang thông tin điện tử và nhóm Zalo của các thôn.",
    "Phối hợp với Đoàn Thanh niên phát tờ rơi tại chợ và nhà văn hóa thôn.",
    "Lồng ghép trong các buổi họp thôn, tổ dân phố.",
)
REASONS = (
    "Đài truyền thanh xã hư hỏng, đang chờ kinh phí sửa chữa.",
    "Chưa bố trí được kinh phí tổ chức trong kỳ.",
    "Công chức phụ trách nghỉ chế độ, chưa có người thay.",
)
GOOD_MODELS = (
    "“Thứ Năm không hẹn”: cán bộ một cửa hướng dẫn người dân làm hồ sơ trực tuyến ngay tại thôn.",
    "Tổ công nghệ số cộng đồng đến từng nhà hướng dẫn kích hoạt VNeID mức 2.",
    "Chuyên mục “Hỏi đáp thủ tục hành chính” phát vào 6 giờ sáng thứ Hai hằng tuần.",
)
LAST = ("21796", "9M")  # the report sent last (Vĩnh Thịnh's nine months, waiting for the province)
RETURN_REASON = "Số liệu sản phẩm tuyên truyền chưa khớp với báo cáo tiến độ; đề nghị rà soát, bổ sung minh chứng."


# ---- who does what: decided by the unit's code, the same on every run -----------------------------


def chance(*key: str) -> float:
    """A number in [0, 1) fixed by `key`: the demo's dice, the same on every run."""
    return int.from_bytes(hashlib.sha256("/".join(key).encode()).digest()[:8], "big") / 2**64


def temperament(commune: str) -> Temperament:
    """How a commune keeps up: the named communes are diligent, about one in twelve says nothing."""
    roll = chance(commune, "temperament")
    if commune in NAMED or roll >= 0.25:
        return "diligent"
    return "silent" if roll < 0.08 else "slow"


def commune_plan(commune: str) -> Literal["issued", "draft", "none"]:
    """Whether a commune has issued its plan implementing the province's (some have not)."""
    kind, roll = temperament(commune), chance(commune, "plan")
    if kind == "silent":
        return "none"
    if kind == "slow":
        return "issued" if roll < 0.5 else "draft" if roll < 0.75 else "none"
    return "issued" if roll < 0.94 else "draft"


@dataclass(frozen=True)
class Assignment:
    id: str
    unit: str
    commune: str
    ref: str
    period: str
    due: date

    @classmethod
    def of(cls, item: dict[str, Any]) -> Assignment:
        unit = item["unit"]
        return cls(
            item["id"], unit, unit.split("-")[0], item["task_ref"], item["period"], date.fromisoformat(item["due"])
        )


def reports_for(assignment: Assignment, today: date) -> list[dict[str, Any]]:
    """The progress reports made on one assignment, in order (a second one corrects the first);
    none for a future occurrence or a commune that says nothing."""
    kind = temperament(assignment.commune)
    start = Period.parse(assignment.period).start
    key = (assignment.unit, assignment.ref, assignment.period)
    if kind == "silent" or start > today:
        return []
    past_due = assignment.due < today
    reported = {"diligent": 0.92, "slow": 0.55}[kind] if past_due else {"diligent": 0.7, "slow": 0.3}[kind]
    if chance(*key, "reported") >= reported:
        return []
    roll = chance(*key, "status")
    status = (
        "done" if roll < (0.85 if past_due else 0.7) else "cannot_do" if past_due and roll > 0.93 else "in_progress"
    )
    task = TASKS[assignment.ref]
    last = _report(assignment.period, status, task, key)
    if status == "done" and chance(*key, "corrected") < 0.1:
        return [_report(assignment.period, "in_progress", task, key), last]
    return [last]


def _report(period: str, status: str, task: DemoTask, key: tuple[str, ...]) -> dict[str, Any]:
    share = {"done": 0.7 + chance(*key, "outputs") * 0.9, "in_progress": 0.4, "cannot_do": 0.0}[status]
    body: dict[str, Any] = {
        "period": period,
        "status": status,
        "outputs": {k: round(n * share) for k, n in task.products.items() if round(n * share)},
    }
    if status == "cannot_do":
        body["reason"] = REASONS[int(chance(*key, "reason") * len(REASONS))]
    elif chance(*key, "note") < 0.25:
        body["note"] = NOTES[int(chance(*key, "which note") * len(NOTES))]
    if status == "done" and chance(*key, "good model") < 0.05:
        body["good_model"] = GOOD_MODELS[int(chance(*key, "which model") * len(GOOD_MODELS))]
    if status == "done" and chance(*key, "link") < 0.3:
        body["evidence"] = [{"kind": "link", "url": f"https://xa-{key[0].lower()}.example.vn/tin-tuc/cchc-{period}"}]
    return body


def with_file(assignment: Assignment) -> bool:
    """Whether a done report carries an evidence file (a photo): always in the named communes."""
    return assignment.commune in NAMED or chance(assignment.id, "file") < 0.03


def photo(seed: str) -> bytes:
    """A small PNG (a coloured picture standing for a photo of the event), built without a library."""
    width, height = 96, 64
    shade = bytes(int(chance(seed, c) * 200) + 40 for c in "rgb")
    raw = b"".join(b"\x00" + shade * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


Sending = Literal["accepted", "returned", "resubmitted", "waiting", "none"]


def submission(commune: str, period: str) -> Sending:
    """What becomes of a commune's periodic report for `period` (Q1: mostly accepted; the nine
    months: some accepted, some returned, some waiting). Vĩnh Sơn's nine months were returned,
    Vĩnh Thịnh's wait for the province, Quy Nhơn's Q1 was returned and sent again."""
    fixed: dict[tuple[str, str], Sending] = {
        ("21787", "Q1"): "accepted",
        ("21787", "9M"): "returned",
        ("21796", "Q1"): "accepted",
        ("21796", "9M"): "waiting",
        ("21583", "Q1"): "resubmitted",
        ("21583", "9M"): "none",
    }
    if (commune, period) in fixed:
        return fixed[(commune, period)]
    if temperament(commune) == "silent":
        return "none"
    roll = chance(commune, period, "submission")
    if period == "Q1":
        return "accepted" if roll < 0.75 else "resubmitted" if roll < 0.82 else "returned" if roll < 0.86 else "none"
    return "accepted" if roll < 0.3 else "returned" if roll < 0.4 else "waiting" if roll < 0.6 else "none"


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
        self, client: httpx.AsyncClient, method: str, path: str, ok: Iterable[int] = (200, 201), **kw: Any
    ) -> Any:
        async with self.gate:
            answer = await client.request(method, path, **kw)
        if answer.status_code not in ok:
            raise fail(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json() if answer.content else {}

    async def each(self, label: str, items: list[Any], step: Callable[[Any], Awaitable[None]]) -> None:
        """`step` for every item, CONCURRENCY at a time, under a bar named `label`."""
        bar = self.progress.add_task(label, total=len(items))

        async def one(item: Any) -> None:
            await step(item)
            self.progress.advance(bar)

        await asyncio.gather(*(one(item) for item in items))

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
        found = await self.call(self.api, "GET", "/api/units", params={"parent": PROVINCE, "level": "commune"})
        self.communes = found["items"]

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
        self.plan_id = (await self.call(self.api, "POST", "/api/plans", json=plan))["id"]
        await self.call(self.api, "POST", f"/api/plans/{self.plan_id}/issue")
        await self.until("Nhiệm vụ giao cho các xã", self.assignment_count, self.expected(self.communes, "children"))

    async def commune_plans(self) -> None:
        async def make(commune: dict[str, Any]) -> None:
            code, kind = commune["code"], commune_plan(commune["code"])
            if kind == "none":
                return
            tasks = [t.json([f"{code}-{t.body}"], [f"{code}-{t.helper}"] if t.helper else []) for t in TASKS.values()]
            plan = {
                "number": f"{int(chance(code, 'number') * 90) + 10}/KH-UBND" if kind == "issued" else "",
                "title": f"Kế hoạch tuyên truyền cải cách hành chính năm {self.year} của {commune['name']}",
                "issuer": code,
                "period": str(self.year),
                "parent_plan": self.plan_id,
                "tasks": tasks,
            }
            client = self.client_of(code, "head")
            made = await self.call(client, "POST", "/api/plans", json=plan)
            if kind == "issued":
                await self.call(client, "POST", f"/api/plans/{made['id']}/issue")

        await self.each("Kế hoạch thực hiện của các xã", self.communes, make)
        issued = [c for c in self.communes if commune_plan(c["code"]) == "issued"]
        total = self.expected(self.communes, "children") + self.expected(issued, "bodies")
        await self.until("Nhiệm vụ giao cho các cơ quan của xã", self.assignment_count, total)

    def expected(self, communes: list[dict[str, Any]], who: Literal["children", "bodies"]) -> int:
        """How many assignments the plans call for: an occurrence per task and responsible unit."""
        year = Period("year", self.year)
        per_unit = {ref: len(occurrences(parse_timeline(t.timeline), year)) for ref, t in TASKS.items()}
        if who == "children":
            return len(communes) * sum(per_unit.values())
        return len(communes) * sum(n * (2 if TASKS[ref].helper else 1) for ref, n in per_unit.items())

    async def assignment_count(self) -> int:
        return int((await self.assignments())["count"])

    async def assignments(self) -> dict[str, Any]:
        return await self.call(self.api, "GET", "/api/assignments", params={"within": PROVINCE, "limit": 10000})

    async def reports(self) -> tuple[int, int]:
        """Report progress as the scenario says; (assignments reported, of them done)."""
        leads = [Assignment.of(a) for a in (await self.assignments())["items"] if a["role"] == "lead"]
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
    client = httpx.AsyncClient(base_url=base_url, timeout=60)
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
                self.console.print(f"Đã nạp dữ liệu mẫu trong {time.monotonic() - started:.0f} giây.")
            else:
                self.console.print(f"Dữ liệu mẫu đã có trong {self.data_dir} (kế hoạch {PLAN_NUMBER}): không nạp lại.")
        self.print_logins(base_url)

    async def state(self, client: httpx.AsyncClient) -> Literal["fresh", "partial", "seeded"]:
        """Fresh: no demo plan yet (what an interrupted run made before the plan is made again
        without duplicates). Seeded: the plan and the last step's reports are there."""
        login = await client.post("/api/auth/login", json={"username": PROVINCE_HEAD.username, "password": PASSWORD})
        if login.status_code != 200:
            return "fresh"
        as_head = {"Authorization": f"Bearer {login.json()['token']}"}
        plans = await client.get("/api/plans", params={"issuer": PROVINCE, "limit": 1000}, headers=as_head)
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
        async with httpx.AsyncClient(base_url=client.base_url, timeout=60, headers=headers) as api:
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

    def print_logins(self, base_url: str) -> None:
        table = Table(title="Tài khoản mẫu (dữ liệu mẫu, không dùng cho hệ thống thật)")
        for column in ("Tên đăng nhập", "Mật khẩu", "Vai trò", "Đơn vị"):
            table.add_column(column, no_wrap=True)
        for a in ACCOUNTS:
            unit = "Tỉnh Gia Lai (52)" if a.unit == PROVINCE else f"{NAMED[a.unit]} ({a.unit})"
            table.add_row(a.username, PASSWORD, a.title, unit)
        self.console.print(table)
        self.console.print(
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
