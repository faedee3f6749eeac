"""The reports service's roll-ups on real servers: completeness, timeliness and the follow-up
states, per level and per child unit, the units that lag, products by content area and channel,
and the filters — each compared with a count made here from the reports the test sent."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from openpyxl import load_workbook

from shared.clock import FixedClock
from tests.integration.conftest import System
from tests.integration.plans_data import AREAS_PLAN
from tests.integration.steps import move_tasks_clock

pytestmark = pytest.mark.integration

GOOD_MODEL = "Livestream giải đáp thủ tục hành chính trên Zalo OA của xã mỗi tối thứ Sáu"
CANNOT = "Chưa có tài khoản mạng xã hội chính thức của xã"


async def rollup(system: System, path: str = "rollup", **params: Any) -> dict[str, Any]:
    response = await system.get(f"/api/reports/{path}", params={"unit": "52", "period": "2026-Q1", **params})
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_province_sees_who_reported_on_time_what_was_done_and_who_lags(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    communes = [c["code"] for c in (await system.get("/api/units", params={"parent": "52"})).json()["items"]]
    assert len(communes) == 135
    plan_id = (await system.post("/api/plans", json=AREAS_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    async def all_assigned() -> bool:  # the units and the 270 assignments have reached the read model
        body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026-Q1"})).json()
        # the units come on a consumer of their own: the assignments may be in before them
        return body.get("expected") == 270 and (await rollup(system, "children"))["count"] == 135

    await system.eventually(all_assigned)
    on_time, in_progress, late = communes[:10], communes[10:15], communes[15:20]
    latest: dict[tuple[str, str], tuple[str, dict[str, int]]] = {}  # (commune, task) → latest report

    async def report(code: str, ref: str, status: str, outputs: dict[str, int], **extra: str) -> None:
        items = (await system.get("/api/assignments", params={"unit": code, "period": "2026-Q1"})).json()["items"]
        assignment = next(i for i in items if i["task_ref"] == ref)
        sent = await system.post(
            f"/api/assignments/{assignment['id']}/progress",
            json={"period": "2026-Q1", "status": status, "outputs": outputs, "reporter": {"unit": code}, **extra},
        )
        assert sent.status_code == 201, sent.text
        latest[(code, ref)] = (status, outputs)

    for i, code in enumerate(on_time):  # 10/02: before the due date 16/03
        await report(code, "1", "done", {"broadcast": 3 + i % 2, "participants": 100})
        await report(code, "2", "done", {"social_post": 2 + i}, good_model=GOOD_MODEL if i == 0 else "")
    for code in in_progress:
        await report(code, "1", "in_progress", {"broadcast": 1})
    await move_tasks_clock(system, datetime(2026, 3, 20, 2, tzinfo=UTC))  # 20/03: after the due date
    for code in in_progress:  # a correction: done, late
        await report(code, "1", "done", {"broadcast": 2})
    for code in late:
        await report(code, "1", "done", {"broadcast": 1, "participants": 40})
    await report(late[0], "2", "cannot_do", {}, reason=CANNOT)
    await system.stop("reports")
    await system.start("reports", clock=FixedClock(datetime(2026, 3, 20, 2, tzinfo=UTC)))

    async def all_counted() -> dict[str, Any] | None:
        body = await rollup(system)
        return body if body["reported"] == len(latest) and body["states"]["done_late"] == 10 else None

    # late[0] also said it cannot do task 2: reported (late), not done

    body = await system.eventually(all_counted)

    # The direct count, from what was sent.
    outputs: Counter[str] = Counter()
    for _, numbers in latest.values():
        outputs.update(numbers)
    assert body["expected"] == 270 and body["reported"] == 31
    assert body["on_time"] == 25  # first reports before the due date, the later correction included
    assert body["completeness"] == round(31 / 270, 4) and body["timeliness"] == round(25 / 270, 4)
    assert body["states"] == {"done_on_time": 20, "done_late": 10, "in_progress": 0, "overdue": 240, "not_due": 0}
    assert body["outputs"] == dict(outputs)
    assert body["by_level"]["commune"]["expected"] == 270 and set(body["by_level"]) == {"commune"}
    first_task: Counter[str] = Counter()
    for (_, ref), (_, numbers) in latest.items():
        if ref == "1":
            first_task.update(numbers)
    assert body["outputs_by_area"]["procedures"] == dict(first_task)
    assert body["outputs_by_channel"]["radio"] == body["outputs_by_channel"]["portal"] == dict(first_task)
    assert body["outputs_by_channel"]["social"] == {"social_post": sum(2 + i for i in range(10))}

    # Filters: a content area, a channel, a product kind, a plan.
    procedures = await rollup(system, area="procedures")
    assert (procedures["expected"], procedures["reported"]) == (135, 20)
    social = await rollup(system, channel="social")
    assert (social["expected"], social["reported"], social["on_time"]) == (135, 11, 10)
    broadcasts = await rollup(system, kind="broadcast")
    assert broadcasts["outputs"] == {"broadcast": outputs["broadcast"]} and broadcasts["expected"] == 270
    assert (await rollup(system, plan=plan_id))["reported"] == 31

    # One row per commune, the ones with the lowest completeness first.
    children = await rollup(system, "children")
    assert children["count"] == 135
    by_code = {row["unit"]: row for row in children["items"]}
    assert by_code[on_time[0]]["completeness"] == 1.0 and by_code[on_time[0]]["states"]["done_on_time"] == 2
    assert by_code[late[0]]["reported"] == 2 and by_code[late[0]]["on_time"] == 0
    assert by_code[communes[-1]]["expected"] == 2 and by_code[communes[-1]]["reported"] == 0
    assert [row["completeness"] for row in children["items"]] == sorted(
        row["completeness"] for row in children["items"]
    )
    assert sum(row["reported"] for row in children["items"]) == 31

    # Who has not reported past the due date: all 115 silent communes (4 days late, 2 missing)
    # before the 9 that still owe one report.
    lagging = await rollup(system, "lagging")
    assert lagging["count"] == 124
    assert {row["days_late"] for row in lagging["items"]} == {4}
    assert [row["missing"] for row in lagging["items"]] == [2] * 115 + [1] * 9
    assert not {row["unit"] for row in lagging["items"]} & set(on_time)

    for params, field in (
        ({"area": "thể thao"}, "area"),
        ({"channel": "tv"}, "channel"),
        ({"kind": "bài"}, "kind"),
        ({"period": "2026-Q5"}, "period"),
    ):
        refused = await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026-Q1", **params})
        assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == field, refused.text
    unknown = await system.get("/api/reports/children", params={"unit": "99999", "period": "2026-Q1"})
    assert unknown.status_code == 404


async def test_the_periodic_report_as_official_documents_matches_the_api(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=AREAS_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200
    communes = [c["code"] for c in (await system.get("/api/units", params={"parent": "52"})).json()["items"]]

    async def all_assigned() -> bool:  # the units and the 270 assignments have reached the read model
        body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026-Q1"})).json()
        # the units come on a consumer of their own: the assignments may be in before them
        return body.get("expected") == 270 and (await rollup(system, "children"))["count"] == 135

    await system.eventually(all_assigned)
    for i, code in enumerate(communes[:6]):
        items = (await system.get("/api/assignments", params={"unit": code, "period": "2026-Q1"})).json()["items"]
        for item in items:
            extra = {"good_model": GOOD_MODEL} if i == 0 and item["task_ref"] == "1" else {}
            sent = await system.post(
                f"/api/assignments/{item['id']}/progress",
                json={
                    "period": "2026-Q1",
                    "status": "done",
                    "outputs": {"broadcast": 2 + i},
                    "reporter": {"unit": code},
                    **extra,
                },
            )
            assert sent.status_code == 201, sent.text

    async def counted() -> dict[str, Any] | None:
        body = (await system.get("/api/reports/52/2026-Q1")).json()
        return body if body.get("reported") == 12 else None

    data = await system.eventually(counted)
    assert data["title"] == "Kết quả công tác tuyên truyền cải cách hành chính quý I năm 2026"
    assert [t["task_ref"] for t in data["tasks"]] == ["1", "2"] and data["tasks"][0]["reported"] == 6
    assert (
        data["tasks"][0]["task_title"] == AREAS_PLAN["tasks"][0]["title"]
        and data["tasks"][0]["plan_number"] == "30/KH-UBND"
    )
    assert data["highlights"]["good_models"][0]["text"] == GOOD_MODEL

    docx = await system.get(
        "/api/reports/52/2026-Q1.docx", params={"number": "15/BC-UBND", "signer": "Nguyễn Văn Bình"}
    )
    assert docx.status_code == 200, docx.text
    assert "bao-cao-cchc-52-2026-Q1.docx" in docx.headers["content-disposition"]
    named = quote("Báo cáo CCHC - Tỉnh Gia Lai - quý I năm 2026.docx")
    assert f"filename*=UTF-8''{named}" in docx.headers["content-disposition"]
    document = Document(io.BytesIO(docx.content))
    header = [cell.text for row in document.tables[0].rows for cell in row.cells]
    # Each name is followed by its short rule: an empty paragraph with a bottom border.
    assert header[0] == "ỦY BAN NHÂN DÂN TỈNH GIA LAI\n"
    assert header[1] == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n"
    for cell in document.tables[0].rows[0].cells:
        assert cell.paragraphs[-1]._p.xpath("./w:pPr/w:pBdr/w:bottom"), "no rule under the header"
    assert header[2] == "Số: 15/BC-UBND"
    assert re.fullmatch(r"Gia Lai, ngày \d{2} tháng (0[12]|[3-9]|1[0-2]) năm 20\d{2}", header[3]), header[3]
    texts = [p.text for p in document.paragraphs if p.text]
    parts = [
        "BÁO CÁO",
        data["title"],
        "I. TÌNH HÌNH BÁO CÁO CỦA CÁC ĐƠN VỊ",
        "II. KẾT QUẢ THỰC HIỆN CÁC NHIỆM VỤ",
        "III. ĐƠN VỊ CHẬM BÁO CÁO",
        "IV. MÔ HÌNH HAY, CÁCH LÀM HIỆU QUẢ",
        "V. KHÓ KHĂN, VƯỚNG MẮC VÀ KIẾN NGHỊ",
    ]
    positions = [texts.index(part) for part in parts]
    assert positions == sorted(positions), texts[:20]
    paragraphs = document.paragraphs
    title_at = next(i for i, p in enumerate(paragraphs) if p.text == data["title"])
    assert paragraphs[title_at + 1]._p.xpath("./w:pPr/w:pBdr/w:bottom"), "no rule under the title"
    body = next(p for p in paragraphs if p.text.startswith("Trong quý I năm 2026"))
    assert body.alignment == WD_ALIGN_PARAGRAPH.JUSTIFY
    assert any(GOOD_MODEL in text for text in texts)
    assert "đã báo cáo 12 lượt" in texts[positions[2] + 1]
    units_table, tasks_table, closing = document.tables[1], document.tables[2], document.tables[-1]
    assert len(units_table.rows) == 1 + 135 and units_table.rows[0].cells[1].text == "Đơn vị"
    assert [row.cells[0].text for row in tasks_table.rows[1:]] == ["1", "2"]
    assert tasks_table.rows[1].cells[1].text == AREAS_PLAN["tasks"][0]["title"]
    assert "Chương trình phát thanh, truyền thanh: " in tasks_table.rows[1].cells[6].text
    assert closing.rows[0].cells[0].text.startswith("Nơi nhận:") and closing.rows[0].cells[0].text.endswith(
        "- Lưu: VT."
    )
    signature = closing.rows[0].cells[1].text.split("\n")
    assert signature[:2] == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"] and signature[-1] == "Nguyễn Văn Bình"
    assert round(document.sections[0].left_margin.mm) == 30 and round(document.sections[0].right_margin.mm) == 15

    xlsx = await system.get("/api/reports/52/2026-Q1.xlsx")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["Nhiệm vụ", "Đơn vị", "Chậm báo cáo", "Ý kiến"]
    *said, said_total = list(book["Ý kiến"].iter_rows(min_row=3, values_only=True))
    quoted = sum(len(data["highlights"][kind]) for kind in ("good_models", "cannot_do", "notes"))
    assert len(said) == quoted == said_total[5] and ("Mô hình hay", GOOD_MODEL) in {(r[0], r[5]) for r in said}
    tasks = list(book["Nhiệm vụ"].iter_rows(min_row=3, values_only=True))
    *rows, total = tasks
    assert total[2] == "Tổng cộng" and total[4:7] == (data["expected"], data["reported"], data["on_time"])
    assert sum(r[4] for r in rows) == data["expected"] and sum(r[5] for r in rows) == data["reported"]
    header = next(book["Nhiệm vụ"].iter_rows(min_row=2, max_row=2, values_only=True))
    broadcast = header.index("Chương trình phát thanh, truyền thanh")
    assert total[broadcast] == data["outputs"]["broadcast"] == sum(r[broadcast] for r in rows)
    *unit_rows, unit_total = list(book["Đơn vị"].iter_rows(min_row=3, values_only=True))
    assert len(unit_rows) == 135 and unit_total[3:6] == (270, 12, 12)
    assert sum(r[4] for r in unit_rows) == 12

    refused = await system.get("/api/reports/52/2026-03.docx")
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "period"
    assert (await system.get("/api/reports/99999/2026-Q1.xlsx")).status_code == 404


async def test_children_after_a_merge_count_the_merged_commune_once_for_its_successor(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=AREAS_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    async def assigned() -> bool:
        body = (await system.get("/api/reports/rollup", params={"unit": "52", "period": "2026-Q1"})).json()
        # the units come on a consumer of their own: the assignments may be in before them
        return body.get("expected") == 270 and (await rollup(system, "children"))["count"] == 135

    await system.eventually(assigned)
    items = (await system.get("/api/assignments", params={"unit": "21787", "period": "2026-Q1"})).json()["items"]
    for item in items[:1]:  # one of its two reports: the merged commune also lags
        sent = await system.post(
            f"/api/assignments/{item['id']}/progress",
            json={"period": "2026-Q1", "status": "done", "outputs": {"broadcast": 1}, "reporter": {"unit": "21787"}},
        )
        assert sent.status_code == 201

    async def counted() -> bool:  # the report is in before the merge: the merge restates it
        return (await rollup(system))["reported"] == 1

    await system.eventually(counted)
    merged = await system.post("/api/units/merge", json={"old": ["21787"], "into": "21583", "on": "2027-01-01"})
    assert merged.status_code == 200, merged.text

    async def restated() -> dict[str, Any] | None:
        body = await rollup(system, "children")
        return body if all(row["unit"] != "21787" for row in body["items"]) else None

    children = await system.eventually(restated)
    totals = await rollup(system)
    assert children["count"] == 134
    successor = next(row for row in children["items"] if row["unit"] == "21583")
    assert successor["reported"] == 1 and successor["expected"] == 4  # its own 2 and the merged commune's 2
    for key in ("expected", "reported", "on_time"):
        assert sum(row[key] for row in children["items"]) == totals[key], key
    as_reported = await rollup(system, "children", view="as_reported")
    assert any(row["unit"] == "21787" and row["reported"] == 1 for row in as_reported["items"])

    # Who lags, seen on 20/03 (after the due date): today the successor answers for the merged
    # commune's missing report too.
    await system.stop("reports")
    await system.start("reports", clock=FixedClock(datetime(2026, 3, 20, 2, tzinfo=UTC)))
    lagging = {row["unit"]: row for row in (await rollup(system, "lagging"))["items"]}
    assert "21787" not in lagging and (lagging["21583"]["missing"], lagging["21583"]["expected"]) == (3, 4)
    assert lagging["21583"]["name"] == successor["name"]
    then = {row["unit"]: row for row in (await rollup(system, "lagging", view="as_reported"))["items"]}
    assert (then["21787"]["missing"], then["21583"]["missing"]) == (1, 2)
