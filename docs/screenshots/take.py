"""The README's three screenshots, taken from a running `cchc demo` (its printed logins):

    .venv/bin/cchc demo --port 8000 &        # wait for the table of logins
    .venv/bin/python docs/screenshots/take.py --base-url http://127.0.0.1:8000

The browser tests write a screenshot of every main page to build/screenshots/ on each run; these
three are of the demo province instead, the size of a screen rather than of the whole page."""

from __future__ import annotations

import argparse
import asyncio
import shutil
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright, expect

HERE = Path(__file__).parent
PASSWORD = "cchc-demo-2026"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1366, "height": 900}}


async def signed_in(browser: Browser, base_url: str, username: str, options: dict) -> Page:
    context = await browser.new_context(base_url=base_url, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", **options)
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_label("Tên đăng nhập").fill(username)
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    return page


async def main(base_url: str) -> None:
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
        )
        officer = await signed_in(browser, base_url, "vinhson.canbo", PHONE)
        await officer.screenshot(path=str(HERE / "phone-home-officer.png"))
        await officer.get_by_role("button", name="Báo cáo").first.click()
        await expect(officer.get_by_role("heading", name="Báo cáo tiến độ")).to_be_visible()
        await officer.screenshot(path=str(HERE / "phone-progress-form.png"))
        head = await signed_in(browser, base_url, "tinh.lanhdao", DESKTOP)
        await head.screenshot(path=str(HERE / "desktop-dashboard-province.png"))
        await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    asyncio.run(main(parser.parse_args().base_url))
