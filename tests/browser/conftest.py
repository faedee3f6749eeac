"""Browser tests: a real `cchc up` (one for the whole run), Debian's chromium driven by
Playwright, a phone-sized and a desktop context, and screenshots of each main page written to
build/screenshots/ (named in the README)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.browser.world import Account, World, build
from tests.e2e.conftest import Running, environment, operator_token, start
from tests.servers import Servers

CHROMIUM = os.environ.get("CCHC_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
PHONE = {"viewport": {"width": 360, "height": 780}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1366, "height": 900}}

expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def web_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One `cchc up` for all browser tests, with its own embedded NATS and PostgreSQL (so the
    browser tests share no state with the rest of the suite)."""
    base = tmp_path_factory.mktemp("web")
    base.chmod(0o755)
    embedded = Servers(nats_url="", database_url="", origin="embedded")
    running = start(base / "data", environment(embedded, "", ""), timeout=180.0)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
async def world(web_up: Running) -> World:
    token = await operator_token(web_up.base_url)
    return await build(web_up.base_url, token)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield launched
        finally:
            await launched.close()


async def _context(browser: Browser, options: dict, world: World) -> BrowserContext:
    context = await browser.new_context(
        base_url=world.base_url, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", **options
    )
    context.set_default_timeout(20_000)
    return context


@pytest.fixture
async def phone(browser: Browser, world: World) -> AsyncIterator[BrowserContext]:
    context = await _context(browser, PHONE, world)
    yield context
    await context.close()


@pytest.fixture
async def desktop(browser: Browser, world: World) -> AsyncIterator[BrowserContext]:
    context = await _context(browser, DESKTOP, world)
    yield context
    await context.close()


async def login(context: BrowserContext, account: Account, next_path: str = "/") -> Page:
    """A page signed in as `account` through the login form, at `next_path`."""
    page = await context.new_page()
    await page.goto(next_path)
    await expect(page).to_have_url(re.compile(r"/login"))
    await page.get_by_label("Tên đăng nhập").fill(account.username)
    await page.get_by_label("Mật khẩu").fill(account.password)
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page).not_to_have_url(re.compile(r"/login"))
    return page


async def shot(page: Page, name: str) -> Path:
    """A screenshot of the whole page, for a reviewer (build/screenshots/<name>.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
