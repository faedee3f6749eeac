"""The plans room in a real browser: a province head drafts a plan (a timeline the API does not
understand is refused next to that task's field, with what was typed kept), issues it, sees
who has not implemented it, amends and closes it; a commune head implements the province plan and the province's tree
shows it issued; the list finds a plan by a word of its title; plan pages fit a phone."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import login, shot
from tests.browser.world import COMMUNE, PROVINCE, YEAR, World

pytestmark = pytest.mark.browser


async def unit_name(world: World, code: str) -> str:
    async with world.api() as api:
        answer = await api.get(f"/api/units/{code}")
        assert answer.status_code == 200, answer.text
        return str(answer.json()["name"])


async def fill_task(page: Page, index: int, *, title: str, lead: str, timeline: str, kind: str, target: str) -> None:
    row = f"tasks[{index}]"
    await page.locator(f'[name="{row}.title"]').fill(title)
    await page.locator(f'[name="{row}.lead"]').fill(lead)
    await page.locator(f'[name="{row}.timeline"]').fill(timeline)
    await page.locator(f'[name="{row}.products[0].kind"]').select_option(kind)
    await page.locator(f'[name="{row}.products[0].target"]').fill(target)


async def confirm_issue(page: Page) -> None:
    await page.get_by_role("button", name="Ban hành", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ban hành kế hoạch?")
    await page.get_by_role("button", name="Xác nhận ban hành").click()
    await expect(page.get_by_role("status")).to_have_text("Đã ban hành kế hoạch.")


async def fits_the_phone(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{page.url} scrolls sideways: {width} px"


async def test_a_province_head_drafts_a_plan_a_bad_timeline_is_refused_at_its_task_then_issues_it(
    desktop: BrowserContext, world: World
) -> None:
    page = await login(desktop, world.accounts["province_head"], "/plans/new")
    number = f"{secrets.token_hex(3)}/KH-UBND"
    await page.get_by_label("Số, ký hiệu").fill(number)
    await page.get_by_label("Tên kế hoạch").fill(f"Kế hoạch tuyên truyền chuyển đổi số năm {YEAR}")
    await expect(page.get_by_label("Đơn vị ban hành")).to_have_value(PROVINCE)  # the viewer's unit by default
    first = "Đăng tin, bài về chuyển đổi số trên trang thông tin điện tử"
    second = "Tổ chức hội nghị đối thoại với người dân về dịch vụ công trực tuyến"
    await fill_task(
        page, 0, title=first, lead="UBND các xã, phường", timeline="Định kỳ 01 lần/quý", kind="article", target="4"
    )
    await fill_task(
        page, 1, title=second, lead="UBND các xã, phường", timeline="lúc nào rảnh", kind="dialogue", target="1"
    )
    await page.get_by_role("button", name="Lưu dự thảo").click()

    refused = page.locator("#err-tasks-1-timeline")
    await expect(refused).to_contain_text("không hiểu thời gian thực hiện")
    await expect(page.locator('[name="tasks[1].timeline"]')).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#err-tasks-0-timeline")).to_have_count(0)
    await expect(page.locator('[name="tasks[0].title"]')).to_have_value(first)
    await expect(page.locator('[name="tasks[1].title"]')).to_have_value(second)
    await expect(page.locator('[name="tasks[1].timeline"]')).to_have_value("lúc nào rảnh")
    await expect(page.locator('[name="tasks[1].products[0].kind"]')).to_have_value("dialogue")
    await expect(page.get_by_label("Số, ký hiệu")).to_have_value(number)
    await shot(page, "desktop-plan-form-refused")

    await page.locator('[name="tasks[1].timeline"]').fill(f"Quý III năm {YEAR}")
    await page.get_by_role("button", name="Lưu dự thảo").click()
    await expect(page.get_by_role("status")).to_have_text("Đã lưu dự thảo.")
    await expect(page.locator(".badge").first).to_have_text("Dự thảo")
    await confirm_issue(page)

    tasks = page.locator("table.tasks")
    await expect(tasks).to_contain_text(first)
    await expect(tasks).to_contain_text(second)
    await expect(tasks).to_contain_text(f"Quý III năm {YEAR}")
    await expect(tasks).to_contain_text("Bài viết: 4")
    await expect(page.locator("#not-issued")).to_contain_text(await unit_name(world, COMMUNE))
    await expect(page.locator(".facts")).to_contain_text(number)
    await shot(page, "desktop-plan-page")

    await page.get_by_role("button", name="Điều chỉnh").click()  # an issued plan: amended, then closed
    await page.locator('[name="tasks[1].title"]').fill(second + " và doanh nghiệp")
    await page.get_by_role("button", name="Lưu điều chỉnh").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã điều chỉnh kế hoạch")
    await expect(page.locator(".versions")).to_contain_text("sửa nhiệm vụ 2")
    await page.get_by_role("button", name="Kết thúc").click()
    await page.get_by_role("button", name="Xác nhận kết thúc").click()
    await expect(page.get_by_role("status")).to_have_text("Đã kết thúc kế hoạch.")


async def test_a_commune_head_implements_the_province_plan_and_the_province_sees_it_issued(
    desktop: BrowserContext, phone: BrowserContext, world: World
) -> None:
    commune = await unit_name(world, COMMUNE)
    page = await login(desktop, world.accounts["commune_head"], f"/plans/{world.plan_id}")
    await page.get_by_role("button", name="Lập kế hoạch thực hiện").click()
    await expect(page.get_by_label("Đơn vị lập kế hoạch thực hiện")).to_have_value(COMMUNE)
    await page.get_by_role("button", name="Tạo dự thảo").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã tạo dự thảo kế hoạch thực hiện")
    await expect(page.locator(".facts")).to_contain_text(commune)
    await confirm_issue(page)
    child_id = page.url.split("/plans/")[1].split("?")[0]

    province = await login(phone, world.accounts["province_head"], f"/plans/{world.plan_id}")
    implementing = province.locator("#implementing li").filter(has=province.locator(f'a[href="/plans/{child_id}"]'))
    await expect(implementing).to_contain_text(commune)
    await expect(implementing).to_contain_text("Đã ban hành")
    still_owing = province.locator("#not-issued li").filter(has_text=re.compile(rf"^\s*{re.escape(commune)}(\s|$)"))
    await expect(still_owing).to_have_count(0)
    await fits_the_phone(province)
    await shot(province, "phone-plan-page")


async def test_the_plans_list_finds_a_plan_by_a_word_of_its_title_and_fits_a_phone(
    desktop: BrowserContext, phone: BrowserContext, world: World
) -> None:
    word = f"kiemtra{secrets.token_hex(3)}"
    async with world.api() as api:
        plan = {
            "title": f"Kế hoạch tuyên truyền {word} về thủ tục hành chính",
            "issuer": PROVINCE,
            "period": str(YEAR),
            "tasks": [{"ref": "1", "title": "Niêm yết thủ tục", "lead": ["children"], "timeline": "Thường xuyên"}],
        }
        created = await api.post("/api/plans", json=plan)
        assert created.status_code == 201, created.text

    page = await login(desktop, world.accounts["province_head"], "/plans")
    await expect(page.get_by_role("button", name="Lập kế hoạch", exact=True)).to_have_attribute("href", "/plans/new")
    await expect(page.get_by_role("button", name="Nhập từ tệp (Word, PDF, ảnh chụp)")).to_have_attribute(
        "href", "/imports/new"
    )
    await shot(page, "desktop-plans-list")
    await page.get_by_label("Tìm theo số, tên, nội dung").fill(word)
    await page.get_by_role("button", name="Tìm").click()
    rows = page.locator("table.plans tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(plan["title"])
    await expect(rows.first).to_contain_text("Dự thảo")

    on_phone = await login(phone, world.accounts["province_head"], "/plans")
    await expect(on_phone.locator("table.plans")).to_be_visible()
    await fits_the_phone(on_phone)
