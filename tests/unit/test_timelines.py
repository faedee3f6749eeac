"""Timelines as written in real plans become structured schedules, and expand into occurrences."""

from __future__ import annotations

from datetime import date

import pytest

from shared.periods import Period
from shared.timelines import Schedule, TimelineError, coerce_schedule, occurrences, parse_timeline

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thường xuyên", {"kind": "ongoing"}),
        ("Thường xuyên trong năm", {"kind": "ongoing"}),
        ("Định kỳ 01 lần/quý", {"kind": "periodic", "every": "quarter"}),
        ("Định kỳ 01 lần / quý", {"kind": "periodic", "every": "quarter"}),
        ("hằng quý", {"kind": "periodic", "every": "quarter"}),
        ("Hàng quý", {"kind": "periodic", "every": "quarter"}),
        ("hằng tháng", {"kind": "periodic", "every": "month"}),
        ("6 tháng", {"kind": "periodic", "every": "half"}),
        ("6 thang/lan", {"kind": "periodic", "every": "half"}),
        ("06 tháng/01 lần", {"kind": "periodic", "every": "half"}),
        ("Cả năm", {"kind": "year"}),  # the plan's year
        ("hằng năm", {"kind": "periodic", "every": "year"}),
        ("quý I, 6 tháng, quý III, năm", {"kind": "periodic", "cycle": ["Q1", "H1", "Q3", "Y"]}),
        ("Quý III năm 2025", {"kind": "quarter", "quarter": 3, "year": 2025}),
        ("Trong quý II năm 2025", {"kind": "quarter", "quarter": 2, "year": 2025}),
        ("Tháng 02/2025", {"kind": "month", "month": 2, "year": 2025}),
        ("Trước ngày 30/11/2025", {"kind": "deadline", "date": date(2025, 11, 30), "year": 2025}),
        ("Trước ngày **30/11/2025**", {"kind": "deadline", "date": date(2025, 11, 30), "year": 2025}),
        ("Trong năm 2025", {"kind": "year", "year": 2025}),
    ],
)
def test_every_timeline_form_of_real_plans_is_understood(text: str, expected: dict) -> None:
    schedule = parse_timeline(text)
    assert schedule.model_dump(exclude_none=True, exclude={"text"}) == expected
    assert schedule.text == text


@pytest.mark.parametrize(
    ("damaged", "quarter"),
    [("Thoi gian thuc hien: Trong quy Il nam 2025", 2), ("quy lll nam 2025", 3), ("Quy 1V nam 2025", 4)],
)
def test_ocr_damaged_quarters_are_read_without_diacritics_and_with_misread_numerals(damaged: str, quarter: int) -> None:
    schedule = parse_timeline(damaged)
    assert (schedule.kind, schedule.quarter, schedule.year) == ("quarter", quarter, 2025)


@pytest.mark.parametrize("text", ["", "khi nào rảnh", "Trước ngày 31/02/2025", "quý V năm 2025"])
def test_text_that_is_not_a_timeline_is_an_error_naming_the_text(text: str) -> None:
    with pytest.raises(TimelineError) as error:
        parse_timeline(text)
    assert (repr(text) in str(error.value)) or text == ""


def test_the_structured_form_is_accepted_as_well_as_the_text() -> None:
    assert coerce_schedule({"kind": "periodic", "every": "quarter"}) == Schedule(kind="periodic", every="quarter")
    with pytest.raises(ValueError):
        coerce_schedule({"kind": "quarter"})


def test_a_quarterly_task_in_a_year_plan_has_four_occurrences_due_after_each_cut_off() -> None:
    found = occurrences(parse_timeline("Định kỳ 01 lần/quý"), Period.parse("2026"))
    assert [(o.period.code, o.due) for o in found] == [
        ("2026-Q1", date(2026, 3, 15)),
        ("2026-Q2", date(2026, 6, 15)),
        ("2026-Q3", date(2026, 9, 15)),
        ("2026-Q4", date(2026, 12, 15)),
    ]


def test_an_ongoing_task_is_reported_in_every_quarter_of_a_half_year_plan() -> None:
    found = occurrences(parse_timeline("Thường xuyên"), Period.parse("2025-H2"))
    assert [o.period.code for o in found] == ["2025-Q3", "2025-Q4"]


def test_a_deadline_and_a_quarter_are_single_occurrences() -> None:
    deadline = occurrences(parse_timeline("Trước ngày 30/11/2025"), Period.parse("2025"))
    assert [(o.period.code, o.due) for o in deadline] == [("2025-Q4", date(2025, 11, 30))]
    quarter = occurrences(parse_timeline("Quý III năm 2025"), Period.parse("2025"))
    assert [(o.period.code, o.due) for o in quarter] == [("2025-Q3", date(2025, 9, 30))]


def test_a_timeline_outside_the_plan_period_is_an_error() -> None:
    with pytest.raises(TimelineError, match="ngoài kỳ"):
        occurrences(parse_timeline("Quý III năm 2025"), Period.parse("2026"))
