"""The inbox in a real browser: a commune officer on a phone sees the unread count in the
navigation, opens a notification's page (the assignment, not the API's JSON), marks one read and
the count goes down; a head's contact with a bad email is refused next to the field, in Vietnamese."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.conftest import login, shot
from tests.browser.world import COMMUNE, PROVINCE, YEAR, World

pytestmark = pytest.mark.browser


async def eventually(check: Any, *, tries: int = 200) -> Any:
    for _ in range(tries):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError("nothing came")


async def notices_of_a_new_plan(world: World) -> tuple[str, list[dict[str, Any]]]:
    """A plan of the province's own for next year, with one quarterly task for the commune: its
    four assignment notices in the commune's inbox (of this test alone, whatever other tests
    read; none of its deadlines is near, so no reminder joins them)."""
    title = f"Tuyên truyền thủ tục hành chính mới ({uuid.uuid4().hex[:6]})"
    plan = {
        "number": f"{uuid.uuid4().int % 900 + 100}/KH-HỘPTHƯ",
        "title": f"Kế hoạch tuyên truyền năm {YEAR + 1}",
        "issuer": PROVINCE,
        "period": str(YEAR + 1),
        "tasks": [
            {
                "ref": "1",
                "title": title,
                "lead": [COMMUNE],
                "coordinating": [],
                "timeline": "Định kỳ 01 lần/quý",
                "products": [{"kind": "article", "target": 1}],
            }
        ],
    }
    async with world.api() as api:
        created = await api.post("/api/plans", json=plan)
        assert created.status_code == 201, created.text
        issued = await api.post(f"/api/plans/{created.json()['id']}/issue")
        assert issued.status_code == 200, issued.text

        async def told() -> list[dict[str, Any]] | None:
            found = await api.get("/api/notifications", params={"unit": COMMUNE, "kind": "assigned"})
            assert found.status_code == 200, found.text
            mine = [n for n in found.json()["items"] if title in n["title"]]
            return mine if len(mine) == 4 else None  # one a quarter

        return title, await eventually(told)


async def unread(world: World) -> int:
    async with world.api() as api:
        found = await api.get("/api/notifications", params={"unit": COMMUNE, "unread": "true", "limit": 500})
        return int(found.json()["count"])


async def settled_unread(world: World) -> int:
    """The commune's unread count once no notice is still arriving (the world's plan's reminders)."""
    seen = [await unread(world)]
    while len(seen) < 3 or len(set(seen[-3:])) > 1:
        await asyncio.sleep(1)
        seen.append(await unread(world))
        assert len(seen) < 120, seen
    return seen[-1]


async def test_an_officer_sees_the_unread_count_opens_the_assignment_and_marks_one_read(
    phone: BrowserContext, world: World
) -> None:
    title, notices = await notices_of_a_new_plan(world)
    before = await settled_unread(world)
    page = await login(phone, world.accounts["commune_officer"], "/inbox")
    badge = page.locator("#unread .count")
    await expect(badge).to_have_text(str(before))

    mine = page.locator("li.note", has_text=title)
    await expect(mine).to_have_count(len(notices))
    first = mine.first
    await expect(first.get_by_text("Chưa đọc")).to_be_visible()
    await expect(first.locator("time")).to_have_text(re.compile(r"^\d{2}:\d{2} \d{2}/\d{2}/\d{4}$"))
    await shot(page, "phone-inbox")

    link = first.get_by_role("link", name=re.compile(re.escape(title)))
    assert await link.get_attribute("href") in {f"/assignments/{n['subject_id']}" for n in notices}
    await link.click()
    await expect(page).to_have_url(re.compile(r"/assignments/[0-9a-f-]{36}$"))

    await page.goto("/inbox")
    await expect(badge).to_have_text(str(before))
    first = page.locator("li.note", has_text=title).first
    await first.get_by_role("button", name="Đánh dấu đã đọc").click()
    await expect(first.get_by_text("Đã đọc")).to_be_visible()
    await expect(badge).to_have_text(str(before - 1))
    assert await unread(world) == before - 1

    await page.goto("/inbox?unread=true")  # the one read is no longer among the unread
    await expect(page.locator("li.note", has_text=title)).to_have_count(len(notices) - 1)


async def test_a_head_adding_a_contact_with_a_bad_email_sees_the_refusal_next_to_the_field(
    phone: BrowserContext, world: World
) -> None:
    page = await login(phone, world.accounts["commune_head"], "/inbox/contacts")
    await page.get_by_label("Họ tên hoặc tên bộ phận").fill("Văn phòng UBND xã")
    await page.get_by_label("Thư điện tử").fill("vanphong-khong-co-a-cong")
    await page.get_by_role("button", name="Thêm người nhận").click()
    await expect(page.locator("#err-email")).to_contain_text("email không hợp lệ")
    await expect(page.get_by_label("Thư điện tử")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Họ tên hoặc tên bộ phận")).to_have_value("Văn phòng UBND xã")

    await page.get_by_label("Thư điện tử").fill("vanphong@vinhson.gialai.gov.vn")
    await page.get_by_role("button", name="Thêm người nhận").click()
    await expect(page).to_have_url(re.compile(r"/inbox/contacts\?unit="))
    await expect(page.get_by_text("vanphong@vinhson.gialai.gov.vn")).to_be_visible()


async def test_a_head_changes_the_communes_reminder_rules(phone: BrowserContext, world: World) -> None:
    page = await login(phone, world.accounts["commune_head"], "/inbox/rules")
    await page.get_by_label("Sau bao nhiêu ngày quá hạn").fill("-2")
    await page.get_by_role("button", name="Lưu quy tắc của đơn vị").click()
    await expect(page.locator("#err-escalate_after_days")).to_be_visible()
    await page.get_by_label("Sau bao nhiêu ngày quá hạn").fill("5")
    await page.get_by_role("button", name="Lưu quy tắc của đơn vị").click()
    await expect(page.get_by_text("Đã lưu quy tắc của đơn vị.")).to_be_visible()
    await expect(page.get_by_label("Sau bao nhiêu ngày quá hạn")).to_have_value("5")
    async with world.api() as api:
        rules = (await api.get("/api/notifications/rules", params={"unit": COMMUNE})).json()
    assert rules["unit"]["escalate_after_days"] == 5
    await page.get_by_role("button", name="Bỏ quy tắc riêng, dùng mặc định").click()
    await expect(page.get_by_role("button", name="Bỏ quy tắc riêng, dùng mặc định")).to_have_count(0)
