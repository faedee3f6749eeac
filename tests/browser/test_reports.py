"""The reports room in a real browser: the commune's head submits the commune's report for the
current quarter on a phone; the province's head sees it among its communes' submissions, opens
it, is refused a return without a reason (next to the field), returns it with one; the commune's
head reads the reason and resubmits; the province's head accepts it and downloads the DOCX."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime

import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from shared.clock import VN
from shared.periods import Period
from tests.browser.conftest import login, shot
from tests.browser.world import COMMUNE, PROVINCE, World

pytestmark = pytest.mark.browser

QUARTER = Period.quarter_of(datetime.now(VN).date())
COMMUNE_REPORT = f"/reports/{COMMUNE}/{QUARTER.code}"
PROVINCE_REPORT = f"/reports/{PROVINCE}/{QUARTER.code}"
REASON = "Thiếu số liệu tin, bài đăng trên trang thông tin điện tử"


def state(page: Page) -> Locator:
    """The badge of where the report stands."""
    return page.locator("section.state .badge").first


async def submit(page: Page, number: str) -> None:
    await page.get_by_label("Số, ký hiệu văn bản").fill(number)
    await page.get_by_role("button", name="Gửi báo cáo", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Đã gửi báo cáo")
    await expect(state(page)).to_contain_text("Đã gửi, chờ tiếp nhận")


async def test_a_commune_report_is_submitted_returned_with_a_reason_resubmitted_accepted_and_downloaded(
    phone: BrowserContext, desktop: BrowserContext, world: World
) -> None:
    # The commune's head finds the current quarter among the commune's periods and submits it.
    commune = await login(phone, world.accounts["commune_head"], "/reports")
    periods = commune.get_by_role("link", name=re.compile(QUARTER.label_vi(), re.IGNORECASE))
    await periods.first.click()
    await expect(commune).to_have_url(re.compile(re.escape(COMMUNE_REPORT) + "$"))
    await submit(commune, "15/BC-UBND")

    # The province's head sees it waiting among the communes of the province, and opens it.
    province = await login(desktop, world.accounts["province_head"], PROVINCE_REPORT)
    row = province.locator("#children tr", has=province.get_by_role("link", name="Xã Vĩnh Sơn"))
    await expect(row.locator(".badge")).to_contain_text("Đã gửi, chờ tiếp nhận")
    await shot(province, "desktop-report-province")
    await row.get_by_role("link", name="Xã Vĩnh Sơn").click()
    await expect(province).to_have_url(re.compile(re.escape(COMMUNE_REPORT) + "$"))

    # A return needs a reason: refused next to the field, then returned with one.
    await province.get_by_role("button", name="Trả lại", exact=True).click()
    reason = province.get_by_label("Lý do trả lại")
    await expect(reason).to_have_attribute("aria-invalid", "true")
    await expect(province.locator("#err-reason")).to_contain_text("lý do trả lại")
    await reason.fill(REASON)
    await province.get_by_role("button", name="Trả lại", exact=True).click()
    await expect(province.get_by_role("status")).to_contain_text("Đã trả lại báo cáo")
    await expect(province.get_by_role("status")).to_contain_text("Xã Vĩnh Sơn")
    await expect(state(province)).to_contain_text("Bị trả lại")

    # The commune's head reads the reason and sends the report again.
    await commune.goto(COMMUNE_REPORT)
    await expect(state(commune)).to_contain_text("Bị trả lại")
    await expect(commune.get_by_role("note")).to_contain_text(REASON)
    await shot(commune, "phone-report-commune")
    await submit(commune, "16/BC-UBND")
    await expect(commune.locator("#h-history + .table-wrap tbody tr")).to_have_count(2)

    # The province's head accepts the new version and downloads it as a Word file.
    await province.goto(COMMUNE_REPORT)
    await province.get_by_role("button", name="Tiếp nhận", exact=True).click()
    await expect(province.get_by_role("status")).to_contain_text("Đã tiếp nhận báo cáo")
    await expect(state(province)).to_contain_text("Đã tiếp nhận")
    async with province.expect_download() as downloading:
        await province.get_by_role("button", name="Tải DOCX").click()
    download = await downloading.value
    assert download.suggested_filename.startswith("Báo cáo CCHC - Xã Vĩnh Sơn - quý")
    assert download.suggested_filename.endswith(".docx")
    content = (await download.path()).read_bytes()
    assert len(content) > 0
    with zipfile.ZipFile(io.BytesIO(content)) as docx:
        assert "word/document.xml" in docx.namelist()
