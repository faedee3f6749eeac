"""Logging in and out in a real browser, on a phone: refusals in Vietnamese next to the field."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.conftest import login, shot
from tests.browser.world import Account, World

pytestmark = pytest.mark.browser


async def test_a_wrong_password_is_refused_in_vietnamese_and_the_username_is_kept(
    phone: BrowserContext, world: World
) -> None:
    page = await phone.new_page()
    await page.goto("/password")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fpassword"))
    officer = world.accounts["commune_officer"]
    await page.get_by_label("Tên đăng nhập").fill(officer.username)
    await page.get_by_label("Mật khẩu").fill("sai-mat-khau-roi")
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.get_by_role("alert").first).to_contain_text("mật khẩu")
    await expect(page.get_by_label("Tên đăng nhập")).to_have_value(officer.username)
    await shot(page, "phone-login-refused")


async def test_an_officer_logs_in_is_sent_back_where_they_were_going_and_logs_out(
    phone: BrowserContext, world: World
) -> None:
    officer = world.accounts["commune_officer"]
    page = await login(phone, officer, "/password")
    await expect(page).to_have_url(re.compile(r"/password$"))
    await page.goto("/")
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await page.get_by_text(officer.name).first.click()
    await page.get_by_role("button", name="Đăng xuất").click()
    await expect(page).to_have_url(re.compile(r"/login"))
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login"))


async def test_a_password_change_is_refused_next_to_the_field_then_done(phone: BrowserContext, world: World) -> None:
    async with world.api() as api:  # an account of this test's own, so no other test's login breaks
        made = await api.post(
            "/api/users",
            json={
                "username": "doi.matkhau",
                "name": "Ngô Thị Đổi",
                "unit": "21787",
                "roles": ["officer"],
                "password": world.accounts["commune_officer"].password,
            },
        )
        assert made.status_code == 201, made.text
    account = Account("doi.matkhau", "Ngô Thị Đổi", "21787", ("officer",), world.accounts["commune_officer"].password)
    page = await login(phone, account, "/password")
    await page.get_by_label("Mật khẩu hiện tại").fill(account.password)
    await page.locator("#f-new_password").fill("mot-mat-khau-moi-2026")
    await page.get_by_label("Nhập lại mật khẩu mới").fill("mot-mat-khau-khac-2026")
    await page.get_by_role("button", name="Đổi mật khẩu").click()
    await expect(page.locator("#err-confirm")).to_contain_text("không khớp")

    await page.get_by_label("Mật khẩu hiện tại").fill(account.password)
    await page.locator("#f-new_password").fill("ngan")
    await page.get_by_label("Nhập lại mật khẩu mới").fill("ngan")
    await page.get_by_role("button", name="Đổi mật khẩu").click()
    await expect(page.locator("#err-new_password")).to_contain_text("ít nhất 10 ký tự")

    await page.get_by_label("Mật khẩu hiện tại").fill(account.password)
    await page.locator("#f-new_password").fill("mot-mat-khau-moi-2026")
    await page.get_by_label("Nhập lại mật khẩu mới").fill("mot-mat-khau-moi-2026")
    await page.get_by_role("button", name="Đổi mật khẩu").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã đổi mật khẩu")
    async with world.api() as api:
        old = await api.post("/api/auth/login", json={"username": account.username, "password": account.password})
        new = await api.post(
            "/api/auth/login", json={"username": account.username, "password": "mot-mat-khau-moi-2026"}
        )
    assert (old.status_code, new.status_code) == (401, 200)
