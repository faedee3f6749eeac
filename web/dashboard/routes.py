"""Home, by role: a commune officer's "việc của tôi"; a head's (or an auditor's, an admin's)
dashboard of its subtree, and the dashboard of any unit of that subtree (drill-down).

The figures come from the reports API in one round of concurrent calls (roll-up, children,
lagging units, trend), never one call per child; the block of figures polls itself every 5 s."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from shared.access import Right, Role
from web.dashboard import figures
from web.dashboard.charts import bar_chart, line_chart
from web.kit import VIETNAM, Page, Viewer, signed_in

router = APIRouter(include_in_schema=False)

HOME = "mọi người đã đăng nhập: trang chủ theo vai trò"
DASHBOARD = "mọi người đã đăng nhập; số liệu chỉ của đơn vị trong cây đơn vị của mình (API từ chối đơn vị khác)"
WORK = "mọi người đã đăng nhập: nhiệm vụ được giao cho đơn vị của mình"


def sees_dashboard(viewer: Viewer) -> bool:
    """Heads, auditors and admins open on the dashboard; officers on their work."""
    return viewer.is_head or viewer.is_admin or Role.auditor.value in viewer.roles


def today() -> date:
    return datetime.now(VIETNAM).date()


@router.get("/")
async def home(period: str | None = None, view: str = "current", page: Page = Depends(signed_in(HOME))) -> HTMLResponse:
    if not sees_dashboard(page.viewer):
        return await work_page(page)
    if not page.viewer.unit:  # the national scope: choose a province
        return await provinces_page(page)
    return await dashboard_page(page, page.viewer.unit, period, view)


@router.get("/work")
async def my_work(page: Page = Depends(signed_in(WORK))) -> HTMLResponse:
    return await work_page(page)


@router.get("/dashboard/{unit}")
async def unit_dashboard(
    unit: str, period: str | None = None, view: str = "current", page: Page = Depends(signed_in(DASHBOARD))
) -> HTMLResponse:
    return await dashboard_page(page, unit, period, view)


async def dashboard_page(page: Page, unit: str, period_code: str | None, view: str) -> HTMLResponse:
    period = figures.chosen_period(period_code, today())
    view = view if view in figures.VIEWS else "current"
    wanted = {"unit": unit, "period": period.code, "view": view}
    rollup, children, lagging, trend = await asyncio.gather(
        *(page.api.json(f"/api/reports/{name}", **wanted) for name in ("rollup", "children", "lagging", "trend"))
    )
    context = {
        "active": "home",
        "unit": unit,
        "period": period,
        "view": view,
        "views": figures.VIEWS,
        "show_views": figures.spans_reorganisation(period),
        "choices": figures.period_choices(today()),
        "rollup": rollup,
        "children": children["items"],
        "lagging": lagging["items"],
        "charts": charts_of(rollup, trend["items"]),
        "rate_class": figures.rate_class,
        "page_path": page.request.url.path,
        "here": page.request.url.path + (f"?{page.request.url.query}" if page.request.url.query else ""),
        "own": unit == page.viewer.unit,
        "may_report": page.viewer.may(Right.report),
        "refreshed": datetime.now(VIETNAM),
    }
    return page.render("dashboard/dashboard.html", context, block="figures" if page.htmx else None)


def charts_of(rollup: dict[str, Any], trend: list[dict[str, Any]]) -> dict[str, Markup | None]:
    """The page's charts; None where there is nothing to draw (the page says so in words)."""
    bars = {
        "kind": ("Sản phẩm theo loại", figures.bars_by_kind(rollup["outputs"])),
        "area": ("Sản phẩm theo lĩnh vực", figures.bars_by_area(rollup["outputs_by_area"])),
        "channel": ("Sản phẩm theo hình thức", figures.bars_by_channel(rollup["outputs_by_channel"])),
    }
    charts: dict[str, Markup | None] = {key: bar_chart(title, b) if b else None for key, (title, b) in bars.items()}
    points = figures.trend_points(trend)
    charts["trend"] = line_chart("Tỷ lệ báo cáo theo quý", points) if points else None
    return charts


async def work_page(page: Page) -> HTMLResponse:
    unit = page.viewer.unit
    watched = figures.report_periods_to_watch(today())
    answer, *sent = await asyncio.gather(
        page.api.json("/api/assignments/work", unit=unit, days=366),
        *(page.api.send("GET", f"/api/reports/{unit}/{p.code}/submissions") for p in watched),
    )
    # a unit without periodic reports (a body) has no submissions to read: nothing returned
    latest = [r.json()["items"][0] for r in sent if r.status_code == 200 and r.json()["items"]]
    returned = [s for s in latest if s["status"] == "returned"]
    work = figures.work_of(answer, returned)
    return page.render(
        "dashboard/work.html",
        {"active": "home", "work": work, "soon_days": figures.SOON_DAYS},
    )


async def provinces_page(page: Page) -> HTMLResponse:
    units = await page.api.every("/api/units", current=True)
    return page.render("dashboard/provinces.html", {"active": "home", "units": units})
