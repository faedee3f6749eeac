"""The plans room's form, without a server: rows read in order with blank and removed ones left
out, a stored plan shown back and sent again with what the form does not show, and refusals of
one entry of a list placed on the input that holds the list."""

from __future__ import annotations

import pytest

from web.kit import Refusal, period_label
from web.plans.display import common_due, coverage, leads
from web.plans.forms import PlanForm, placed

pytestmark = pytest.mark.unit


def test_posted_rows_are_renumbered_without_blank_or_removed_rows_so_api_indices_are_rows_on_the_page() -> None:
    posted = {
        "number": " 12/KH-UBND ",
        "title": "Kế hoạch",
        "issuer": "52",
        "period": "2026",
        "tasks[0].ref": "1",  # only its number: a blank row
        "tasks[2].ref": "3",
        "tasks[2].title": "Đăng tin",
        "tasks[2].lead": "Phòng VHXH; UBND các xã, phường\n",
        "tasks[2].timeline": "Hằng quý",
        "tasks[2].products[0].kind": "news",
        "tasks[2].products[0].target": "4",
        "tasks[2].products[1].kind": "",
        "tasks[2].products[1].target": "",
        "tasks[5].ref": "6",
        "tasks[5].title": "Bỏ đi",
        "tasks[5].remove": "1",
        "tasks[10].ref": "11",
        "tasks[10].title": "Hội nghị",
        "tasks[10].products[0].kind": "conference",
        "tasks[10].products[0].target": "một",
    }
    form = PlanForm.posted(posted)
    assert [t.title for t in form.tasks] == ["Đăng tin", "Hội nghị"]
    assert form.blanks == 1
    body = form.body()
    assert body["number"] == "12/KH-UBND"
    assert body["tasks"][0]["lead"] == ["Phòng VHXH", "UBND các xã, phường"]
    assert body["tasks"][0]["products"] == [{"kind": "news", "target": 4}]
    assert body["tasks"][1]["timeline"] is None  # the API says it is missing, next to this row
    assert body["tasks"][1]["products"] == [{"kind": "conference", "target": "một"}]  # refused as typed


def test_a_stored_plan_is_shown_by_names_and_sent_back_with_what_the_form_does_not_show() -> None:
    stored = {
        "id": "p1",
        "number": "",
        "title": "KH thực hiện",
        "issuer": "21787",
        "period": "2026",
        "parent_plan": "parent-id",
        "purpose": "Mục đích",
        "tasks": [
            {
                "ref": "1",
                "title": "Tuyên truyền",
                "lead_text": ["children", "21787-VHXH"],
                "lead": ["21787-VHXH"],
                "coordinating": ["21787-CA"],
                "timeline": {"kind": "ongoing", "text": "Thường xuyên"},
                "products": [{"kind": "news", "target": 2}],
                "area": "procedures",
                "channels": ["radio"],
            }
        ],
    }
    names = {"21787-VHXH": "Phòng Văn hóa - Xã hội", "21787-CA": "Công an xã"}
    form = PlanForm.of_plan(stored, names)
    row = form.tasks[0]
    assert (row.lead, row.coordinating, row.timeline) == (
        "UBND các xã, phường; Phòng Văn hóa - Xã hội",
        "Công an xã",
        "Thường xuyên",
    )
    body = form.body(stored)
    assert body["parent_plan"] == "parent-id" and body["purpose"] == "Mục đích"
    assert body["tasks"][0]["area"] == "procedures" and body["tasks"][0]["channels"] == ["radio"]
    assert body["tasks"][0]["products"] == [{"kind": "news", "target": 2}]


def test_a_refused_entry_of_a_list_is_shown_on_the_input_holding_the_list() -> None:
    fields = {"tasks[1].lead[0]": "không có đơn vị 'X'", "tasks[1].lead[2]": "không có đơn vị 'Y'", "title": "thiếu"}
    refusal = Refusal(422, "", fields)
    assert placed(refusal).fields == {
        "tasks[1].lead": "không có đơn vị 'X'; không có đơn vị 'Y'",
        "title": "thiếu",
    }


def test_what_the_plan_page_shows_in_words() -> None:
    assert period_label("2026-H1") == "6 tháng đầu năm 2026"
    assert period_label("2026-Q4", capital=False) == "quý IV năm 2026"
    assert period_label("bất kỳ") == "bất kỳ"
    assert leads({"lead_text": ["children"], "lead": ["a", "b"]}, {}) == ["UBND các xã, phường (2 đơn vị)"]
    assert common_due([{"due": "2026-03-01"}, {"due": "2026-03-01"}]) == "2026-03-01"
    assert common_due([{"due": "2026-03-01"}, {"due": "2026-04-01"}]) is None
    found = coverage(
        [
            {"task_ref": "1", "unit": "A", "last_reported_at": None},
            {"task_ref": "1", "unit": "A", "last_reported_at": "2026-02-01T00:00:00Z"},
            {"task_ref": "1", "unit": "B", "last_reported_at": None},
        ]
    )
    assert (len(found["1"].units), len(found["1"].reported), found["1"].share) == (2, 1, 0.5)
