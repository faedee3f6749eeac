"""The whole round trip of issue 15, in one browser run: a commune officer reports on a phone with
an evidence file; the province head's open dashboard shows it within seconds, without a reload;
the commune's head submits the quarter's report; the province head returns it with a reason; the
officer sees the notification, follows it to the report, corrects the progress; the commune's
head submits again; the province head accepts it and downloads the DOCX.

It acts for a commune of its own (accounts made here), so the other browser tests' reports on
communes 21787 and 21796 cannot change what it sees."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import login, shot
from tests.browser.world import COMMUNE, PASSWORD, PROVINCE, SIBLING, Account, World

pytestmark = pytest.mark.browser

REASON = "Chưa có minh chứng hội nghị; bổ sung ảnh và số người dự"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00" + bytes(40)


async def commune_of_our_own(world: World) -> tuple[dict[str, Any], Account, Account]:
    """A commune no other test reports for, with an officer and a head made for this test."""
    async with world.api() as api:
        communes = (await api.get("/api/units", params={"parent": PROVINCE})).json()["items"]
        commune = [c for c in communes if c["code"] not in (COMMUNE, SIBLING)][len(communes) // 2]
        officer = Account(f"hanhtrinh.canbo.{commune['code']}", "Vũ Thị Hành", commune["code"], ("officer",))
        head = Account(f"hanhtrinh.chutich.{commune['code']}", "Hồ Văn Trình", commune["code"], ("head",))
        for account in (officer, head):
            made = await api.post(
                "/api/users",
                json={
                    "username": account.username,
                    "name": account.name,
                    "unit": account.unit,
                    "roles": list(account.roles),
                    "password": PASSWORD,
                },
            )
            assert made.status_code == 201, made.text
    return commune, officer, head


async def this_quarter(world: World, unit: str) -> dict[str, Any]:
    """The unit's assignment of the world's quarterly task for the quarter the system is in."""
    async with world.api() as api:
        work = (await api.get("/api/assignments/work", params={"unit": unit})).json()
        quarter = f"{work['today'][:4]}-Q{(int(work['today'][5:7]) - 1) // 3 + 1}"
        found = await api.get("/api/assignments", params={"unit": unit, "plan": world.plan_id, "period": quarter})
    items = [a for a in found.json()["items"] if a["task_ref"] == "1"]
    assert items, found.text
    return dict(items[0])


async def report_progress(page: Page, articles: str, note: str, evidence: Path | None = None) -> None:
    await page.get_by_label("Đang thực hiện").check()
    await page.get_by_label("Bài viết", exact=True).fill(articles)
    await page.get_by_label("Ghi chú, kiến nghị").fill(note)
    if evidence is not None:
        await page.get_by_label("Tải lên tệp mới").set_input_files(str(evidence))
    button = page.get_by_role("button", name=re.compile(r"^Gửi báo cáo"))
    await button.click()
    await expect(page.get_by_role("status").filter(has_text="Đã ghi nhận báo cáo")).to_be_visible()


async def submit_report(page: Page, number: str) -> None:
    await page.get_by_label("Số, ký hiệu văn bản").fill(number)
    await page.get_by_role("button", name="Gửi báo cáo", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Đã gửi báo cáo")


async def test_report_show_return_correct_resubmit_accept_download(
    phone: BrowserContext, desktop: BrowserContext, browser: Any, world: World, tmp_path: Path
) -> None:
    commune, officer_account, head_account = await commune_of_our_own(world)
    code, name = commune["code"], commune["name"]
    assignment = await this_quarter(world, code)
    period = assignment["period"]

    # The province head keeps the dashboard of the quarter open on the desktop.
    dashboard = await login(desktop, world.accounts["province_head"], f"/?period={period}")
    reported = dashboard.locator(f'table.children tr[data-unit="{code}"] td:nth-child(2)')
    await expect(reported).to_have_text(re.compile(r"^0 / \d+$"))

    # The commune officer, on a phone: home, one tap to the form, a report with a photo.
    officer = await login(phone, officer_account, "/")
    await expect(officer.get_by_role("heading", level=1)).to_have_text("Việc của tôi")
    await officer.locator(f'a[href="/assignments/{assignment["id"]}"]').first.click()
    photo = tmp_path / "hoi-nghi-tuyen-truyen.png"
    photo.write_bytes(PNG)
    await report_progress(officer, "1", "Đã đăng 1 tin trên trang của xã", photo)
    await expect(officer.locator(".files").get_by_role("link", name=photo.name)).to_be_visible()

    # Within seconds the open dashboard counts it, without a reload.
    await expect(reported).to_have_text(re.compile(r"^1 / \d+$"), timeout=20_000)
    await shot(dashboard, "desktop-journey-dashboard")

    # The commune's head submits the quarter's report (on a phone of their own).
    head_context = await browser.new_context(
        base_url=world.base_url, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", viewport={"width": 360, "height": 780}
    )
    try:
        head = await login(head_context, head_account, f"/reports/{code}/{period}")
        await submit_report(head, "21/BC-UBND")

        # The province head returns it with a reason.
        review = await desktop.new_page()
        await review.goto(f"/reports/{code}/{period}")
        await review.get_by_label("Lý do trả lại").fill(REASON)
        await review.get_by_role("button", name="Trả lại", exact=True).click()
        await expect(review.get_by_role("status")).to_contain_text("Đã trả lại báo cáo")
        await expect(review.get_by_role("status")).to_contain_text(name)

        # The officer sees the notification in the inbox and follows it to the returned report.
        await officer.goto("/inbox")
        notice = officer.locator("li, article").filter(has_text=REASON).first
        await expect(notice).to_be_visible(timeout=20_000)
        await shot(officer, "phone-journey-inbox")
        await notice.get_by_role("link").first.click()
        await expect(officer).to_have_url(re.compile(rf"/reports/{code}/{re.escape(period)}$"))
        await expect(officer.get_by_role("note")).to_contain_text(REASON)

        # The officer corrects the progress; the head submits again.
        await officer.goto(f"/assignments/{assignment['id']}")
        await report_progress(officer, "2", "Bổ sung ảnh hội nghị, 45 người dự")
        await expect(officer.locator(".history .version")).to_have_count(2)
        await head.reload()
        await submit_report(head, "22/BC-UBND")
    finally:
        await head_context.close()

    # The province head accepts it and downloads the Word file.
    await review.goto(f"/reports/{code}/{period}")
    await review.get_by_role("button", name="Tiếp nhận", exact=True).click()
    await expect(review.get_by_role("status")).to_contain_text("Đã tiếp nhận báo cáo")
    async with review.expect_download() as downloading:
        await review.get_by_role("button", name="Tải DOCX").click()
    download = await downloading.value
    assert download.suggested_filename.endswith(".docx")
    with zipfile.ZipFile(io.BytesIO((await download.path()).read_bytes())) as docx:
        body = docx.read("word/document.xml").decode()
    assert name in body
