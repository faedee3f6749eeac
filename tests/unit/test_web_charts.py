"""The dashboard's server-side SVG charts and the shaping of the API's figures into them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from web.dashboard.charts import NO_DATA, Bar, Point, bar_chart, line_chart
from web.dashboard.figures import bars_by_area, bars_by_channel, bars_by_kind, trend_points, work_of

pytestmark = pytest.mark.unit

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_a_bar_chart_is_an_accessible_image_with_its_title_and_every_value_in_words() -> None:
    svg = parsed(bar_chart("Sản phẩm theo loại", [Bar("Bài viết", 1234), Bar("Tin", 5)]))
    assert svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None and title.text == "Sản phẩm theo loại"
    assert desc is not None and desc.text == "Bài viết: 1.234; Tin: 5"
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def test_bars_are_as_long_as_their_share_of_the_largest_value() -> None:
    svg = parsed(bar_chart("x", [Bar("a", 200), Bar("b", 50), Bar("c", 0)]))
    widths = [float(rect.get("width", "0")) for rect in svg.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(4 * widths[1])
    assert widths[2] == 0


def test_labels_are_escaped_and_a_long_label_is_cut_but_kept_whole_in_its_title() -> None:
    long = "Mạng xã hội (Zalo OA, Facebook, YouTube, TikTok) <và> các kênh số khác của xã, phường"
    markup = str(bar_chart("Theo <kênh>", [Bar(long, 3)]))
    assert "<và>" not in markup and "&lt;và&gt;" in markup
    svg = parsed(markup)
    shown = [t.text or "" for t in svg.iter(f"{SVG}text")]
    assert shown[0].endswith("…") and len(shown[0]) < len(long)
    titles = [t.text for t in svg.iter(f"{SVG}title")]
    assert titles[1] == f"{long}: 3"


def test_a_chart_without_data_says_so() -> None:
    for chart in (bar_chart("x", []), line_chart("y", [])):
        svg = parsed(chart)
        assert svg.get("role") == "img"
        assert NO_DATA in [t.text for t in svg.iter(f"{SVG}text")]


def test_a_line_chart_shows_each_share_in_vietnamese_and_breaks_where_there_is_nothing_to_count() -> None:
    points = [Point("Quý I", 0.5), Point("Quý II", 0.755), Point("Quý III", None), Point("Quý IV", 1.0)]
    svg = parsed(line_chart("Tỷ lệ báo cáo theo quý", points))
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert {"50 %", "76 %", "100 %", "—", "Quý I", "Quý IV"} <= set(texts)
    lines = list(svg.iter(f"{SVG}polyline"))
    assert len(lines) == 1 and len(lines[0].get("points", "").split()) == 2  # Q1–Q2; Q4 stands alone
    assert len(list(svg.iter(f"{SVG}circle"))) == 3
    width = float(svg.get("viewBox", "0 0 0 0").split()[2])
    assert all(0 <= float(c.get("cx", "-1")) <= width for c in svg.iter(f"{SVG}circle"))


def test_charts_on_one_page_have_distinct_ids() -> None:
    ids = re.findall(r'<title id="([^"]+)"', str(bar_chart("a", [])) + str(bar_chart("b", [])))
    assert len(ids) == len(set(ids)) == 2


def test_products_by_kind_carry_the_vocabulary_labels_the_most_first() -> None:
    assert bars_by_kind({"news": 2, "article": 7, "video": 0}) == [Bar("Bài viết", 7), Bar("Tin", 2)]


def test_products_by_area_and_channel_leave_audience_sizes_out_of_the_sums() -> None:
    grouped = {"procedures": {"article": 3, "participants": 400}, "": {"news": 1}, "pci": {"reach": 900}}
    assert bars_by_area(grouped) == [
        Bar("Cải cách thủ tục hành chính (một cửa, một cửa liên thông)", 3),
        Bar("Chưa xác định lĩnh vực", 1),
    ]
    assert bars_by_channel({"radio": {"broadcast": 12}}) == [Bar("Đài truyền thanh", 12)]


def test_the_trend_is_labelled_by_quarter_without_the_year() -> None:
    items = [{"period": "2026-Q1", "completeness": 0.5}, {"period": "2026-Q2", "completeness": None}]
    assert trend_points(items) == [Point("Quý I", 0.5), Point("Quý II", None)]


def test_my_work_splits_what_is_due_within_thirty_days_from_what_comes_later() -> None:
    answer = {
        "today": "2026-12-04",
        "overdue": [{"id": "b", "due": "2026-09-15"}, {"id": "a", "due": "2026-03-16"}],
        "due_next": [{"id": "later", "due": "2027-01-20"}, {"id": "soon", "due": "2026-12-15"}],
        "counts": {"overdue": 2},
    }
    work = work_of(answer, returned=[])
    assert [i["id"] for i in work.overdue] == ["a", "b"]
    assert [i["id"] for i in work.soon] == ["soon"] and [i["id"] for i in work.later] == ["later"]
    assert not work.empty
    assert work_of({"today": "2026-12-04", "overdue": [], "due_next": []}, returned=[]).empty
