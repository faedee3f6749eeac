"""What the demo province is made of and who in it does what: the demo accounts, the province
plan's tasks, the texts officials write, and the rolls of the dice — fixed by each unit's code,
so every run tells the same story. Pure: no I/O (cchc/demo.py loads it through the API).

Time is the real time: the services date every report "now" (there is no clock setting). So a
report for an occurrence whose due date has passed counts as late, one for an occurrence still
open (this quarter, this half) as on time, an occurrence not reported is overdue or in
progress. Before the first due date of the year (mid-April) there is nothing late yet."""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from shared.periods import Period

PROVINCE = "52"
PLAN_NUMBER = "15/KH-UBND"
PASSWORD = "cchc-demo-2026"  # every demo account's: it is a demo, printed on purpose
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
    """A task of the province plan, led by every commune; in a commune's own plan, handed to its
    body `body` (a standard body's tag), with `helper` coordinating — or, without a body, kept
    by the commune itself and left out of its plan."""

    ref: str
    title: str
    timeline: str
    products: dict[str, int]
    area: str
    channels: tuple[str, ...]
    body: str | None
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
            None,  # the commune's own culture officer posts them
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
