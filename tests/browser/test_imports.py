"""Importing a plan document in a real browser: the province head uploads a Word plan written
here with python-docx, sees the warned line highlighted beside the draft, is refused saving
while a timeline cannot be read (the message next to the field, what was typed kept), corrects
it in place and saves the draft; a PDF or a program is refused next to the file field; a text
plan is reviewed on a phone with the text and the draft stacked."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import login, shot
from tests.browser.world import YEAR, World

pytestmark = pytest.mark.browser
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HEADER = ["STT", "Nhiệm vụ", "Cơ quan chủ trì", "Cơ quan phối hợp", "Thời gian thực hiện", "Sản phẩm"]
TASKS = [
    ["1", "Đăng tin, bài về cải cách thủ tục hành chính trên cổng thông tin điện tử", "Định kỳ 01 lần/quý", "Tin, bài"],
    ["2", "Tổ chức hội nghị đối thoại với người dân về dịch vụ công trực tuyến", "Khi có chỉ đạo", "Hội nghị"],
    ["3", "Phát sóng chuyên mục cải cách hành chính trên hệ thống truyền thanh", "Thường xuyên", "Chuyên mục"],
]
UNREADABLE = "Khi có chỉ đạo"  # the timeline the reader warns about (task 2)
CORRECTED = f"Quý III năm {YEAR}"


def unique_number() -> str:
    return f"{time.time_ns() // 1_000_000 % 10_000_000}/KH-UBND"


def word_plan(number: str) -> bytes:
    """A province plan as officials write it: header, purpose, a task table, organisation."""
    document = Document()
    for text in ("ỦY BAN NHÂN DÂN TỈNH GIA LAI", f"Số: {number}", f"Gia Lai, ngày 15 tháng 01 năm {YEAR}"):
        document.add_paragraph(text)
    document.add_paragraph("KẾ HOẠCH")
    document.add_paragraph(f"Tuyên truyền cải cách hành chính trên địa bàn tỉnh năm {YEAR}")
    document.add_paragraph("I. MỤC ĐÍCH, YÊU CẦU")
    document.add_paragraph("Nâng cao nhận thức của cán bộ, công chức và Nhân dân về cải cách hành chính.")
    document.add_paragraph("II. NHIỆM VỤ TRỌNG TÂM")
    table = document.add_table(rows=1, cols=len(HEADER))
    for cell, text in zip(table.rows[0].cells, HEADER, strict=True):
        cell.text = text
    for ref, title, timeline, products in TASKS:
        row = table.add_row().cells
        for cell, text in zip(row, [ref, title, "UBND các xã, phường", "", timeline, products], strict=True):
            cell.text = text
    document.add_paragraph("III. TỔ CHỨC THỰC HIỆN")
    document.add_paragraph(f"UBND các xã, phường báo cáo kết quả trước ngày 30/11/{YEAR}.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def text_plan(number: str) -> str:
    """A plan for the second half of the year as a text file, its task table tab-separated."""
    rows = [
        ["1", "Đăng tải video clip hướng dẫn nộp hồ sơ trực tuyến trên mạng xã hội", "Hằng quý", "Video clip"],
        ["2", "Tổ chức cuộc thi tìm hiểu về chuyển đổi số", "Khi có kinh phí", "Cuộc thi"],
    ]
    table = "\n".join("\t".join([ref, title, "UBND các xã, phường", "", when, what]) for ref, title, when, what in rows)
    return (
        f"ỦY BAN NHÂN DÂN TỈNH GIA LAI\nSố: {number}\n\nKẾ HOẠCH\n"
        f"Tuyên truyền cải cách hành chính 6 tháng cuối năm {YEAR}\n\n"
        "I. MỤC ĐÍCH, YÊU CẦU\nĐưa thông tin cải cách hành chính đến người dân và doanh nghiệp.\n\n"
        "II. CÁC NHIỆM VỤ TRỌNG TÂM\n" + "\t".join(HEADER) + "\n" + table + "\n"
    )


async def upload(page: Page, name: str, content: bytes, media: str) -> None:
    chosen = {"name": name, "mimeType": media, "buffer": content}
    await page.get_by_label("Tệp kế hoạch").set_input_files(files=[chosen])
    await page.get_by_role("button", name="Đọc tệp").click()


async def saved_plan(world: World, page: Page) -> dict[str, Any]:
    await expect(page).to_have_url(re.compile(r"/plans/[0-9a-f-]{36}$"))
    plan_id = page.url.rsplit("/", 1)[-1]
    async with world.api() as api:
        answer = await api.get(f"/api/plans/{plan_id}")
    assert answer.status_code == 200, answer.text
    plan: dict[str, Any] = answer.json()
    return plan


async def test_the_province_head_reviews_a_word_plan_corrects_the_warned_timeline_and_saves_a_draft(
    desktop: BrowserContext, world: World, tmp_path: Path
) -> None:
    number = unique_number()
    fixture = tmp_path / "ke-hoach-tuyen-truyen.docx"
    fixture.write_bytes(word_plan(number))
    page = await login(desktop, world.accounts["province_head"], "/imports/new")
    await expect(page.get_by_text("tối đa 10,0 MB")).to_be_visible()  # the limits, before any upload
    await expect(page.get_by_label("Đơn vị ban hành")).to_have_value("52")  # the head's own unit
    await upload(page, fixture.name, fixture.read_bytes(), DOCX)

    warned = page.locator(".source .line.warned")
    await expect(warned).to_have_count(1)
    await expect(warned).to_contain_text(UNREADABLE)
    anchor = await warned.get_attribute("id")
    link = f'a[href="#{anchor}"]'
    listed = page.locator(f".warnings {link}")
    await expect(listed).to_be_visible()
    await expect(page.locator(".warnings li").filter(has=page.locator(link))).to_contain_text(UNREADABLE)
    await expect(page.locator("#f-number")).to_have_value(number)
    await expect(page.locator("#f-date")).to_have_value(f"15/01/{YEAR}")
    await expect(page.locator("#f-tasks-1-timeline")).to_have_value(UNREADABLE)
    await shot(page, "desktop-import-review")
    await listed.click()
    await expect(page).to_have_url(re.compile(f"#{anchor}$"))

    # a target typed, then saved with the timeline as read: refused next to it, the target kept
    await page.locator("#f-tasks-0-products-0-target").fill("4")
    await page.get_by_role("button", name="Lưu bản nháp").click()
    refusal = page.locator("#err-tasks-1-timeline")
    await expect(refusal).to_contain_text(UNREADABLE)
    await expect(page.locator("#f-tasks-0-products-0-target")).to_have_value("4")
    await expect(page.locator(".source .line.warned")).to_have_count(1)  # the text read is still beside it

    await page.locator("#f-tasks-1-timeline").fill(CORRECTED)
    await page.get_by_role("button", name="Lưu bản nháp").click()
    plan = await saved_plan(world, page)
    assert plan["status"] == "draft" and plan["number"] == number and plan["issuer"] == "52"
    assert plan["date"] == f"{YEAR}-01-15"
    tasks = {task["ref"]: task for task in plan["tasks"]}
    assert tasks["2"]["timeline"]["text"] == CORRECTED
    assert [p["target"] for p in tasks["1"]["products"]] == [4]


@pytest.mark.parametrize(
    ("name", "content", "media"),
    [
        ("ke-hoach-hong.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 cut off before its first page", "application/pdf"),
        ("cai-dat.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "application/x-msdownload"),
    ],
)
async def test_a_broken_pdf_or_a_program_is_refused_in_vietnamese_next_to_the_file_field(
    desktop: BrowserContext, world: World, name: str, content: bytes, media: str
) -> None:
    page = await login(desktop, world.accounts["province_head"], "/imports/new")
    await upload(page, name, content, media)
    message = page.locator("#err-file")
    await expect(message).to_contain_text("tệp PDF bị hỏng" if name.endswith(".pdf") else "chỉ đọc được các loại tệp")
    await expect(page.get_by_label("Tệp kế hoạch")).to_have_attribute("aria-invalid", "true")


async def test_a_text_plan_is_reviewed_on_a_phone_with_the_text_above_the_draft(
    phone: BrowserContext, world: World, tmp_path: Path
) -> None:
    number = unique_number()
    fixture = tmp_path / "ke-hoach-6-thang-cuoi-nam.txt"
    fixture.write_text(text_plan(number), encoding="utf-8")
    page = await login(phone, world.accounts["province_head"], "/imports/new")
    await upload(page, fixture.name, fixture.read_bytes(), "text/plain")

    await expect(page.locator(".source .line.warned")).to_contain_text("Khi có kinh phí")
    source = await page.locator(".source").bounding_box()
    draft = await page.locator("form.draft").bounding_box()
    assert source and draft and draft["y"] >= source["y"] + source["height"]  # stacked, not side by side
    width = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert width <= 0, f"the page scrolls sideways by {width}px"
    await expect(page.locator("#f-period")).to_have_value(f"{YEAR}-H2")
    await shot(page, "phone-import-review")

    await page.locator("#f-tasks-1-timeline").fill(f"Quý IV năm {YEAR}")
    await page.get_by_role("button", name="Lưu bản nháp").click()
    plan = await saved_plan(world, page)
    assert plan["period"] == f"{YEAR}-H2" and [t["ref"] for t in plan["tasks"]] == ["1", "2"]
