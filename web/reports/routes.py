"""Pages of the reports room: a unit's periodic reports (each period of this year and the last
with its submission state and deadline), and one report — its figures, its tasks a page at a
time, its submission history, the actions the viewer's rights and the report's state allow
(submit, accept, return, reopen), its children's submissions and the DOCX / XLSX downloads.

Every figure, state, deadline and decision comes from the reports service's API
(/api/reports/…); the page only chooses what to show and which forms to offer — the API refuses
what the viewer may not do, and its refusal is shown next to the form."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from shared.periods import Period
from shared.vocabularies import CONTENT_AREAS, PRODUCT_KINDS
from web.kit import ALL_AT_ONCE, VIETNAM, Page, PageError, Refusal, redirect, signed_in

router = APIRouter(include_in_schema=False)

TASKS_PER_PAGE = 25
SHOWN_HIGHLIGHTS = 5  # good models and notes quoted on the page; the XLSX lists every one
OWED = ("returned", "reopened")  # a report the unit must send (again)
DONE = {  # what the page says after a successful action, {unit} the report's unit name
    "submit": "Đã gửi báo cáo {period} lên cấp trên.",
    "accept": "Đã tiếp nhận báo cáo {period} của {unit}.",
    "return": "Đã trả lại báo cáo {period} cho {unit}.",
    "reopen": "Đã mở lại báo cáo {period} của {unit} để điều chỉnh.",
}
STATUS_CLASS = {"accepted": "ok", "submitted": "info", "returned": "bad", "reopened": "warn", "not_submitted": "idle"}


def periods_of(year: int) -> list[Period]:
    """The periodic reports of a year in the order they fall due: quarter I, quarter II and 6
    months, quarter III and 9 months, quarter IV and the year."""
    quarters = [Period("quarter", year, i) for i in range(1, 5)]
    return [
        quarters[0],
        quarters[1],
        Period("half", year, 1),
        quarters[2],
        Period("nine_months", year),
        quarters[3],
        Period("year", year),
    ]


def today_vn() -> date:
    return datetime.now(VIETNAM).date()


def days_late(latest: dict[str, Any] | None, due: str, today: date) -> int:
    """Days past the deadline: when it was sent, or until today while it is owed."""
    sent = latest is not None and latest["status"] in ("submitted", "accepted")
    on = datetime.fromisoformat(latest["submitted_at"]).astimezone(VIETNAM).date() if sent and latest else today
    return max((on - date.fromisoformat(due)).days, 0)


@dataclass(frozen=True)
class Standing:
    """Where a report stands for the page: a label and the colour of its badge (green on time,
    orange sent late, red owed past its deadline, grey not due yet)."""

    label: str
    tone: str

    @classmethod
    def of(cls, status: str, label: str, late: int) -> Standing:
        if status in ("submitted", "accepted"):
            return cls(f"{label} · trễ {late} ngày", "warn") if late else cls(label, STATUS_CLASS[status])
        return cls(f"{label} · quá hạn {late} ngày", "bad") if late else cls(label, STATUS_CLASS[status])

    @classmethod
    def of_latest(cls, latest: dict[str, Any] | None, due: str, today: date) -> Standing:
        if latest is None:
            return cls.of("not_submitted", "Chưa gửi", days_late(None, due, today))
        return cls.of(latest["status"], latest["status_label"], days_late(latest, due, today))


# ---- /reports: the unit's periods -------------------------------------------------------------


async def period_row(page: Page, unit: str, period: Period, today: date) -> dict[str, Any]:
    """A period of the list: the latest submission (if any) and the unit's deadline."""
    versions = await page.api.json(f"/api/reports/{unit}/{period.code}/submissions")
    latest = versions["items"][0] if versions["items"] else None
    return {
        "period": period,
        "due": versions["due"],
        "latest": latest,
        "standing": Standing.of_latest(latest, versions["due"], today),
    }


@router.get("/reports")
async def reports(
    unit: str = "", page: Page = Depends(signed_in("mọi người đã đăng nhập: báo cáo định kỳ của đơn vị mình"))
) -> HTMLResponse:
    code = unit.strip() or page.viewer.unit
    context: dict[str, Any] = {"active": "reports", "unit": code, "unit_name": "", "years": []}
    if code and code != "*":
        today = today_vn()
        for year in (today.year, today.year - 1):
            rows = await asyncio.gather(*(period_row(page, code, p, today) for p in periods_of(year)))
            context["years"].append({"year": year, "rows": rows})
        context["unit_name"] = (await page.api.json(f"/api/units/{code}")).get("name", code)
    return page.render("reports/periods.html", context)


# ---- /reports/{unit}/{period}: one report ------------------------------------------------------


def child_rows(report: dict[str, Any], submitted: dict[str, Any]) -> list[dict[str, Any]]:
    """Each child unit's submission (with its deadline) beside its figures in the report."""
    figures = {c["unit"]: c for c in report.get("children", [])}
    return [
        {
            **item,
            "standing": Standing.of(item["status"], item["status_label"], item["days_late"]),
            "figures": figures.get(item["unit"], {}),
        }
        for item in submitted["items"]
    ]


def offered(page: Page, report: dict[str, Any], latest: dict[str, Any] | None) -> set[str]:
    """The forms to show: the unit's head submits its own report while none waits and it is not
    locked; the head of the unit above accepts or returns a waiting one and reopens an accepted
    one. (The API decides; a form it would refuse is just not offered.)"""
    viewer, status = page.viewer, latest["status"] if latest else "not_submitted"
    forms: set[str] = set()
    sendable = bool(report.get("parent_name")) and status in ("not_submitted", *OWED)
    if viewer.may("submit") and viewer.unit == report["unit"] and sendable:
        forms.add("submit")
    above = latest is not None and (viewer.unit == latest["parent"] or viewer.unit_path == "*")
    if viewer.may("review") and above:
        forms |= {"accept", "return"} if status == "submitted" else {"reopen"} if status == "accepted" else set()
    return forms


def tasks_page(tasks: list[dict[str, Any]], wanted: int) -> dict[str, Any]:
    pages = max((len(tasks) + TASKS_PER_PAGE - 1) // TASKS_PER_PAGE, 1)
    number = min(max(wanted, 1), pages)
    start = (number - 1) * TASKS_PER_PAGE
    return {"rows": tasks[start : start + TASKS_PER_PAGE], "number": number, "pages": pages, "total": len(tasks)}


async def report_page(
    page: Page,
    unit: str,
    period: str,
    *,
    trang: int = 1,
    done: str = "",
    action: str = "",
    errors: Refusal | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    base = f"/api/reports/{unit}/{period}"
    report, versions, submitted = await asyncio.gather(
        page.api.json(base, limit=ALL_AT_ONCE),
        page.api.whole(f"{base}/submissions"),
        page.api.whole(f"{base}/children-submissions"),
    )
    if cursor := report["pages"]["tasks"]["next_cursor"]:  # numbered pages below: every task
        rest = await page.api.whole(f"{base}/tasks", cursor=cursor)
        report["tasks"] = report["tasks"] + rest["items"]
    latest = versions["items"][0] if versions["items"] else None
    message = DONE[done].format(period=report["period_label"], unit=report["unit_name"]) if done in DONE else ""
    context = {
        "active": "reports",
        "report": report,
        "versions": versions["items"],
        "latest": latest,
        "standing": Standing.of_latest(latest, versions["due"], today_vn()),
        "due": versions["due"],
        "children": child_rows(report, submitted),
        "counts": submitted["counts"],
        "tasks": tasks_page(report.get("tasks", []), trang),
        "forms": offered(page, report, latest),
        "done": message,
        "action": action,
        "errors": errors,
        "values": values or {},
        "shown": SHOWN_HIGHLIGHTS,
        "PRODUCT_KINDS": PRODUCT_KINDS,
        "CONTENT_AREAS": CONTENT_AREAS,
        "STATUS_CLASS": STATUS_CLASS,
        "base": f"/reports/{unit}/{period}",
    }
    return page.render("reports/report.html", context, status=errors.status if errors else 200)


@router.get("/reports/{unit}/{period}")
async def report(
    unit: str,
    period: str,
    trang: int = 1,
    xong: str = "",
    page: Page = Depends(signed_in("người đọc được số liệu của đơn vị (đơn vị mình, cấp trên của nó)")),
) -> HTMLResponse:
    return await report_page(page, unit, period, trang=trang, done=xong)


# What each form sends to the API: the route's last segment and the fields of its body.
FORM_FIELDS = {"submit": ("number", "note"), "accept": (), "return": ("reason",), "reopen": ("reason",)}


@router.post("/reports/{unit}/{period}/{action}")
async def act(
    unit: str,
    period: str,
    action: str,
    page: Page = Depends(
        signed_in("lãnh đạo đơn vị (gửi báo cáo), lãnh đạo cấp trên trực tiếp (tiếp nhận, trả lại, mở lại)")
    ),
) -> Response:
    """Submit, accept, return or reopen the report through the API; back to the report with a
    message, or the report again with the API's refusal next to the form (what was typed kept)."""
    if action not in FORM_FIELDS:
        raise PageError(404, "Không có thao tác này với báo cáo.")
    form = await page.request.form()
    values = {name: str(form.get(name, "")) for name in FORM_FIELDS[action]}
    answer = await page.api.send("POST", f"/api/reports/{unit}/{period}/{action}", json=values)
    if answer.status_code < 400:
        return redirect(f"/reports/{unit}/{period}?xong={action}", htmx=page.htmx)
    return await report_page(page, unit, period, action=action, errors=Refusal.of(answer), values=values)
