"""The admin room in a real browser: the province admin creates an account for a commune, sees
its temporary password once, and the new user logs in with it and is sent to change it; creates
an API token (its secret shown once) and revokes it; an officer is refused the admin pages."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.conftest import login, shot
from tests.browser.world import COMMUNE, Account, World

pytestmark = pytest.mark.browser


async def test_the_province_admin_creates_a_commune_user_who_logs_in_with_the_temporary_password(
    desktop: BrowserContext, phone: BrowserContext, world: World
) -> None:
    page = await login(desktop, world.accounts["province_admin"], "/admin/users")
    username = f"xa.moi{uuid.uuid4().hex[:6]}"
    await page.get_by_role("button", name="Tạo tài khoản").first.click()  # opens the form
    await page.get_by_label("Tên đăng nhập").fill(username)
    await page.get_by_label("Họ và tên").fill("Hoàng Thị Mới")
    await page.get_by_role("combobox", name=re.compile(r"^Đơn vị")).fill(COMMUNE)
    await page.locator("#f-new-roles-officer").check()
    await page.locator("form[method=post][action='/admin/users'] button[type=submit]").click()

    shown = page.locator("#f-temporary")
    await expect(shown).to_have_value(re.compile(r".{10,}"))
    password = await shown.input_value()
    await expect(page.locator("li.list-item", has_text=username)).to_contain_text("Cán bộ, công chức")
    await shot(page, "desktop-admin-users")
    await page.goto("/admin/users")  # shown once: not on the next visit
    await expect(page.locator("#f-temporary")).to_have_count(0)

    newcomer = await login(phone, Account(username, "Hoàng Thị Mới", COMMUNE, ("officer",), password), "/")
    await expect(newcomer).to_have_url(re.compile(r"/password$"))


async def test_the_province_admin_creates_a_token_sees_its_secret_once_and_revokes_it(
    desktop: BrowserContext, world: World
) -> None:
    page = await login(desktop, world.accounts["province_admin"], "/admin/tokens")
    name = f"Cổng thông tin tỉnh {uuid.uuid4().hex[:6]}"
    await page.get_by_role("button", name="Tạo mã truy cập").click()
    await page.get_by_label("Tên hệ thống dùng mã").fill(name)
    await page.get_by_role("combobox", name=re.compile(r"^Phạm vi")).fill("52")
    await page.get_by_role("button", name="Tạo mã", exact=True).click()
    secret = await page.locator("#f-secret").input_value()
    assert len(secret) > 20
    async with httpx.AsyncClient(base_url=world.base_url, headers={"Authorization": f"Bearer {secret}"}) as api:
        assert (await api.get("/api/units/52")).status_code == 200

        item = page.locator("li.list-item", has_text=name)
        await item.get_by_role("button", name=f"Thu hồi mã {name}").click()
        await item.get_by_role("button", name="Xác nhận thu hồi").click()
        await expect(page.locator("li.list-item", has_text=name)).to_contain_text("Đã thu hồi")
        await expect(page.locator("#f-secret")).to_have_count(0)
        assert (await api.get("/api/units/52")).status_code == 401


async def test_an_officer_opening_the_users_page_is_refused(phone: BrowserContext, world: World) -> None:
    page = await login(phone, world.accounts["commune_officer"], "/admin/users")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Không có quyền")
    await page.goto("/admin")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Không có quyền")


async def test_the_province_admin_opens_the_units_and_failed_deliveries(desktop: BrowserContext, world: World) -> None:
    page = await login(desktop, world.accounts["province_admin"], "/admin")
    await page.get_by_role("link", name="Đơn vị").first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Gia Lai")
    await page.get_by_role("link", name="Xã Vĩnh Sơn").click()
    await expect(page).to_have_url(re.compile(rf"/admin/units\?unit={COMMUNE}$"))
    await expect(page.get_by_role("heading", name=re.compile("^Cơ quan, đơn vị của"))).to_be_visible()
    await page.goto("/inbox/deliveries")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Các lần gửi thông báo")
