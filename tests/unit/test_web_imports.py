"""The review form of an imported plan, without servers: the form rendered from a parse answer
posts back the same draft as the body of POST /api/plans; corrections and left-out rows are
taken; the API's refusal of a moved task or product lands on the field the official sees."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from web.imports.review import Review
from web.imports.routes import KINDS
from web.kit import Refusal, environment

pytestmark = pytest.mark.unit

ANSWER: dict[str, Any] = {
    "file": "ke-hoach.docx",
    "lines": [{"no": 1, "text": "ỦY BAN NHÂN DÂN TỈNH GIA LAI"}, {"no": 11, "text": "2 Hội nghị Khi có chỉ đạo"}],
    "draft": {
        "number": "77/KH-UBND",
        "issuer": {"name": "Ủy ban nhân dân tỉnh Gia Lai", "code": "52"},
        "place": "Gia Lai",
        "date": "2026-01-15",
        "title": "Tuyên truyền cải cách hành chính năm 2026",
        "period": "2026",
        "parent": None,
        "areas": ["procedures"],
        "channels": ["portal"],
        "duties": [{"body": "Sở Nội vụ", "lines": ["Theo dõi, tổng hợp."], "reporting": []}],
        "recipients": ["UBND các xã, phường"],
        "signer": {"name": "Nguyễn Văn A", "title": "Chủ tịch"},
        "tasks": [
            {
                "ref": "1",
                "title": "Đăng tin, bài trên cổng thông tin",
                "group": False,
                "lead": ["UBND các xã, phường"],
                "coordinating": [],
                "timeline_text": "Định kỳ 01 lần/quý",
                "products": ["Tin, bài"],
                "product_kinds": ["news", "article"],
                "area": "procedures",
                "channels": ["portal"],
                "line": 10,
            },
            {
                "ref": "2",
                "title": "Hội nghị đối thoại",
                "group": False,
                "lead": ["UBND các xã, phường", "Sở Nội vụ"],
                "coordinating": ["Sở Thông tin và Truyền thông"],
                "timeline_text": "Khi có chỉ đạo",
                "products": [],
                "product_kinds": [],
                "area": None,
                "channels": [],
                "line": 11,
            },
        ],
        "warnings": [{"line": 11, "message": "nhiệm vụ 2: không hiểu thời gian thực hiện: 'Khi có chỉ đạo'"}],
    },
}


class FormFields(HTMLParser):
    """What a browser would post from the page's form: inputs, checked boxes, textareas, selects."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and a.get("name") and (a.get("type") != "checkbox" or "checked" in a):
            self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
            self.values.setdefault(a["name"], "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def posted(review: Review, errors: Refusal | None = None) -> dict[str, str]:
    html = environment.get_template("imports/review.html").render(review=review, errors=errors, kinds=KINDS)
    fields = FormFields()
    fields.feed(html)
    return fields.values


def test_the_review_form_posts_back_the_draft_it_was_given() -> None:
    body = Review.of_form(posted(Review.of_parse(ANSWER))).plan().body
    assert body["number"] == "77/KH-UBND" and body["issuer"] == "52" and body["date"] == "2026-01-15"
    assert body["duties"] == ANSWER["draft"]["duties"] and body["signer"] == ANSWER["draft"]["signer"]
    first, second = body["tasks"]
    assert first["timeline"] == "Định kỳ 01 lần/quý" and first["channels"] == ["portal"]
    assert first["products"] == []  # kinds read without a number are no targets
    assert second["lead"] == ["UBND các xã, phường", "Sở Nội vụ"]
    assert second["coordinating"] == ["Sở Thông tin và Truyền thông"]


def test_the_read_text_and_its_warnings_survive_the_round_trip() -> None:
    again = Review.of_form(posted(Review.of_parse(ANSWER)))
    lines = again.source_lines()
    assert [line.no for line in lines] == [1, 11]
    assert lines[1].warnings == ["nhiệm vụ 2: không hiểu thời gian thực hiện: 'Khi có chỉ đạo'"]


def test_corrections_and_a_left_out_task_are_taken() -> None:
    form = posted(Review.of_parse(ANSWER))
    form["tasks[0].remove"] = "1"
    form["tasks[1].timeline"] = "Quý III năm 2026"
    form["tasks[1].products[0].kind"] = "conference"
    form["tasks[1].products[0].target"] = "2"
    body = Review.of_form(form).plan().body
    assert [t["ref"] for t in body["tasks"]] == ["2"]
    assert body["tasks"][0]["timeline"] == "Quý III năm 2026"
    assert body["tasks"][0]["products"] == [{"kind": "conference", "target": 2}]


def test_a_refusal_of_a_moved_task_lands_on_the_field_the_official_sees() -> None:
    form = posted(Review.of_parse(ANSWER))
    form["tasks[0].remove"] = "1"
    form["tasks[1].products[0].kind"] = "conference"
    form["tasks[1].products[0].target"] = "hai"
    sent = Review.of_form(form).plan()
    said = {"tasks[0].timeline": "không hiểu", "tasks[0].products[0].target": "phải là số", "tasks": "ít nhất 1"}
    moved = sent.on_form(Refusal(422, "", said))
    assert moved.fields == {
        "tasks[1].timeline": "không hiểu",
        "tasks[1].products[0].target": "phải là số",
        "tasks": "ít nhất 1",
    }
    assert 'id="err-tasks-1-timeline"' in environment.get_template("imports/review.html").render(
        review=Review.of_form(form), errors=moved, kinds=KINDS
    )
