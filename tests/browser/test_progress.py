"""The progress room in a real browser: a commune officer on a phone reports on their assignment —
a refused count comes back in Vietnamese next to its field with the rest kept, a report with an
evidence file is recorded and listed, a correction makes a second version in the history, a long
history shows its latest reports and the earlier ones a page at a time — and an officer of the
sibling commune gets no form at all."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import login, shot
from tests.browser.world import COMMUNE, PROVINCE, SIBLING, YEAR, World

pytestmark = pytest.mark.browser

TASK = "Sản xuất video clip, tin bài về chính quyền số"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00" + bytes(40)


async def own_assignment(world: World) -> str:
    """An assignment of COMMUNE in a plan of this test's own (other tests report on the shared
    plan's): its last quarter, which the other tests' periodic reports are least likely to lock."""
    async with world.api() as api:
        plan = {
            "number": f"{uuid.uuid4().hex[:4]}/KH-UBND",
            "title": f"Kế hoạch tuyên truyền chính quyền số năm {YEAR}",
            "issuer": PROVINCE,
            "period": str(YEAR),
            "tasks": [
                {
                    "ref": "1",
                    "title": TASK,
                    "lead": [COMMUNE, SIBLING],
                    "coordinating": [],
                    "timeline": "Định kỳ 01 lần/quý",
                    "products": [{"kind": "article", "target": 4}, {"kind": "video", "target": 1}],
                }
            ],
        }
        created = await api.post("/api/plans", json=plan)
        assert created.status_code == 201, created.text
        plan_id = created.json()["id"]
        assert (await api.post(f"/api/plans/{plan_id}/issue")).status_code == 200
        for _ in range(200):  # the assignments are made from the plan's event
            found = await api.get("/api/assignments", params={"unit": COMMUNE, "plan": plan_id})
            items = found.json().get("items") if found.status_code == 200 else None
            if items:
                return str(items[-1]["id"])
            await asyncio.sleep(0.3)
    raise AssertionError(f"no assignment of {COMMUNE} in plan {plan_id}")


async def submit(page: Page, button: str) -> int:
    """Send the form; the status the server answered the POST with (a 303 on success)."""
    async with page.expect_response(lambda r: r.request.method == "POST") as answered:
        await page.get_by_role("button", name=button).click()
    return (await answered.value).status


async def test_an_officer_on_a_phone_reports_with_evidence_and_corrects_keeping_the_history(
    phone: BrowserContext, desktop: BrowserContext, world: World, tmp_path: Path
) -> None:
    assignment_id = await own_assignment(world)
    page = await login(phone, world.accounts["commune_officer"], f"/assignments/{assignment_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(TASK)
    await expect(page.get_by_text("Định kỳ 01 lần/quý")).to_be_visible()
    # the limits of an upload are said before anything is uploaded
    await expect(page.locator("#f-file-limits")).to_contain_text("Tối đa 20,0 MB")
    await expect(page.locator("#f-file-limits")).to_contain_text("PDF")
    await shot(page, "phone-progress-form")

    await page.get_by_label("Đang thực hiện").check()
    await page.get_by_label("Bài viết", exact=True).fill("2")
    await page.get_by_label("Video clip", exact=True).fill("-1")
    await page.get_by_label("Ghi chú, kiến nghị").fill("Đã đăng 2 tin trên cổng thông tin của xã")
    assert await submit(page, "Gửi báo cáo") == 422
    await expect(page.locator("#err-outputs-video")).to_contain_text("không được âm")
    await expect(page.get_by_label("Bài viết", exact=True)).to_have_value("2")
    await expect(page.get_by_label("Video clip", exact=True)).to_have_value("-1")
    await expect(page.get_by_label("Ghi chú, kiến nghị")).to_have_value("Đã đăng 2 tin trên cổng thông tin của xã")
    await expect(page.get_by_label("Đang thực hiện")).to_be_checked()
    await shot(page, "phone-progress-refused")

    # a refusal about one line of the links is said at the links, naming the line
    await page.get_by_label("Video clip", exact=True).fill("1")
    await page.get_by_label("Liên kết bài đã đăng, phát").fill(
        "https://vinhson.gialai.gov.vn/tin/1\nkhong-phai-dia-chi"
    )
    assert await submit(page, "Gửi báo cáo") == 422
    await expect(page.locator("#err-links")).to_contain_text("dòng 2: phải là địa chỉ web hợp lệ")

    evidence = tmp_path / "anh-hoi-nghi.png"
    evidence.write_bytes(PNG)
    await page.get_by_label("Liên kết bài đã đăng, phát").fill("https://vinhson.gialai.gov.vn/tin/1")
    await page.get_by_label("Tải lên tệp mới").set_input_files(str(evidence))
    assert await submit(page, "Gửi báo cáo") == 303
    await expect(page.get_by_role("status").filter(has_text="Đã ghi nhận báo cáo")).to_be_visible()
    await expect(page.locator(".files").get_by_role("link", name="anh-hoi-nghi.png")).to_be_visible()
    versions = page.locator(".history .version")
    await expect(versions).to_have_count(1)
    await expect(versions.first).to_contain_text("Đã đăng 2 tin")
    await expect(versions.first).to_contain_text("Video clip: 1")
    await expect(versions.first.get_by_role("link", name="https://vinhson.gialai.gov.vn/tin/1")).to_be_visible()

    # the correction starts from the report that counts: the file stays attached
    await expect(page.get_by_label("anh-hoi-nghi.png")).to_be_checked()
    await page.get_by_label("Đã hoàn thành").check()
    await page.get_by_label("Bài viết", exact=True).fill("4")
    assert await submit(page, "Gửi báo cáo điều chỉnh") == 303
    await expect(page.get_by_role("status").filter(has_text="Đã ghi nhận báo cáo")).to_be_visible()
    await expect(versions).to_have_count(2)
    await expect(versions.first).to_contain_text("Đang được tính")
    await expect(versions.first).to_contain_text("Bài viết: 4")
    await expect(versions.first).to_contain_text("Đã hoàn thành")
    await expect(versions.nth(1)).to_contain_text("Đã được thay thế")
    await expect(versions.nth(1)).to_contain_text("Bài viết: 2")

    wide = await login(desktop, world.accounts["commune_officer"], f"/assignments/{assignment_id}")
    await expect(wide.locator(".history .version")).to_have_count(2)
    await shot(wide, "desktop-progress")


async def test_the_sibling_communes_officer_gets_no_form_for_this_assignment(
    phone: BrowserContext, world: World
) -> None:
    assignment_id = await own_assignment(world)
    page = await login(phone, world.accounts["sibling_officer"], f"/assignments/{assignment_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Không tìm thấy|Không có quyền"))
    await expect(page.locator("form.progress-form")).to_have_count(0)


async def test_a_long_history_shows_the_latest_reports_and_the_earlier_ones_a_page_at_a_time(
    desktop: BrowserContext, world: World
) -> None:
    assignment_id = await own_assignment(world)
    async with world.api() as api:
        period = (await api.get(f"/api/assignments/{assignment_id}")).json()["period"]
        for n in range(1, 23):  # a report and 21 corrections: more than the page shows at once
            body = {"period": period, "status": "in_progress", "outputs": {"article": n}, "note": f"Báo cáo số {n}"}
            sent = await api.post(f"/api/assignments/{assignment_id}/progress", json=body)
            assert sent.status_code == 201, sent.text

    page = await login(desktop, world.accounts["commune_officer"], f"/assignments/{assignment_id}")
    versions = page.locator(".history .version")
    await expect(versions).to_have_count(20)
    await expect(versions.first).to_contain_text("Lần 22")
    await expect(versions.first).to_contain_text("Đang được tính")
    await expect(versions.last).to_contain_text("Lần 3")
    await expect(page.get_by_label("Bài viết", exact=True)).to_have_value("22")  # from the report that counts

    await page.get_by_role("button", name="Xem các lần báo cáo trước").click()
    await expect(versions).to_have_count(2)
    await expect(versions.first).to_contain_text("Báo cáo số 2")
    await expect(versions.first).to_contain_text("Đã được thay thế")
    await expect(versions.last).to_contain_text("Lần 1")
    await expect(page.get_by_role("button", name="Xem các lần báo cáo trước")).to_have_count(0)
    await expect(page.get_by_label("Bài viết", exact=True)).to_have_value("22")  # the form still the latest
    await shot(page, "desktop-progress-earlier")

    await page.get_by_role("link", name="Về các lần báo cáo mới nhất").click()
    await expect(versions).to_have_count(20)
