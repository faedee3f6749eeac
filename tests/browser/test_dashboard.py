"""Home by role in a real browser: the commune officer's "việc của tôi" on a phone, the province
head's dashboard on a desktop (period, drill-down, a unit outside the subtree refused) and its
figures refreshing by themselves when a commune reports."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import login, shot
from tests.browser.world import COMMUNE, PROVINCE, SIBLING, YEAR, World

pytestmark = pytest.mark.browser


async def assignments_of(world: World, unit: str, **params: Any) -> list[dict[str, Any]]:
    async with world.api() as api:
        found = await api.get("/api/assignments", params={"unit": unit, "plan": world.plan_id, **params})
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


async def no_horizontal_scroll(page: Page) -> None:
    widths = await page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


async def test_the_commune_officer_sees_its_work_and_one_tap_leads_to_the_report_form(
    phone: BrowserContext, world: World
) -> None:
    ids = {item["id"] for item in await assignments_of(world, COMMUNE)}
    page = await login(phone, world.accounts["commune_officer"], "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Việc của tôi")
    card = page.locator("article.task-card").filter(has_text="Đăng tin, bài về cải cách hành chính").first
    await expect(card).to_be_visible()
    await expect(card.locator(".badge")).to_have_class(re.compile(r"\b(ok|info|warn|bad|idle)\b"))
    await expect(card).to_contain_text(re.compile(r"Hạn: \d{2}/\d{2}/\d{4}"))
    button = card.get_by_role("button", name="Báo cáo")
    href = await button.get_attribute("href")
    assert href is not None and href.removeprefix("/assignments/") in ids, href
    await no_horizontal_scroll(page)
    await shot(page, "phone-home-officer")
    await button.click()
    await expect(page).to_have_url(re.compile(rf"/assignments/{href.removeprefix('/assignments/')}$"))


async def test_the_province_head_changes_the_period_and_drills_down_to_a_commune(
    desktop: BrowserContext, world: World
) -> None:
    page = await login(desktop, world.accounts["province_head"], "/")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Gia Lai")
    commune_row = page.locator(f'table.children tr[data-unit="{COMMUNE}"]')
    await expect(commune_row).to_be_visible()
    await page.get_by_label("Kỳ báo cáo").select_option(str(YEAR))
    await page.get_by_role("button", name="Xem").click()
    await expect(page).to_have_url(re.compile(rf"[?&]period={YEAR}(&|$)"))
    await expect(page.locator("hgroup p")).to_contain_text(f"Năm {YEAR}")
    await expect(page.locator("svg.chart.line title")).to_have_text("Tỷ lệ báo cáo theo quý")
    await shot(page, "desktop-dashboard-province")
    name = (await commune_row.locator("td a").first.inner_text()).strip()
    await commune_row.locator("td a").first.click()
    await expect(page).to_have_url(re.compile(rf"/dashboard/{COMMUNE}\?period={YEAR}&view=current$"))
    await expect(page.get_by_role("heading", level=1)).to_contain_text(name)


async def test_the_province_dashboard_fits_a_phone(phone: BrowserContext, world: World) -> None:
    page = await login(phone, world.accounts["province_head"], "/")
    await expect(page.locator(f'table.children tr[data-unit="{COMMUNE}"]')).to_be_attached()
    await no_horizontal_scroll(page)
    await shot(page, "phone-dashboard-province")


async def test_a_commune_head_cannot_open_a_sibling_communes_dashboard(desktop: BrowserContext, world: World) -> None:
    page = await login(desktop, world.accounts["commune_head"], "/")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Tổng hợp")
    answer = await page.goto(f"/dashboard/{SIBLING}")
    assert answer is not None and answer.status == 403
    await expect(page.locator(f'table.children tr[data-unit="{SIBLING}"]')).to_have_count(0)


async def test_the_open_dashboard_shows_a_communes_report_without_a_reload(
    desktop: BrowserContext, world: World
) -> None:
    async with world.api() as api:  # a commune no other test reports for
        communes = (await api.get("/api/units", params={"parent": PROVINCE})).json()["items"]
    quiet = next(c["code"] for c in reversed(communes) if c["code"] not in (COMMUNE, SIBLING))
    quarter = f"{YEAR}-Q{await quarter_now(world)}"
    assignment = (await assignments_of(world, quiet, period=quarter))[0]
    page = await login(desktop, world.accounts["province_head"], f"/?period={quarter}")
    cell = page.locator(f'table.children tr[data-unit="{quiet}"] td:nth-child(2)')
    await expect(cell).to_have_text(re.compile(r"^0 / \d+$"))
    async with world.api() as api:
        sent = await api.post(
            f"/api/assignments/{assignment['id']}/progress",
            json={"period": assignment["period"], "status": "done", "outputs": {"article": 2}},
        )
    assert sent.status_code == 201, sent.text
    await expect(cell).to_have_text(re.compile(r"^1 / \d+$"), timeout=20_000)
    await expect(page.locator("svg.chart.bars title").first).to_have_text("Sản phẩm theo loại")


async def quarter_now(world: World) -> int:
    """The quarter the system is in (its own clock, from the work API's `today`)."""
    async with world.api() as api:
        work = await api.get("/api/assignments/work", params={"unit": COMMUNE})
    assert work.status_code == 200, work.text
    return (int(work.json()["today"][5:7]) - 1) // 3 + 1
