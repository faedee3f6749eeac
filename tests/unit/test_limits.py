"""The bounds of request fields (shared/limits.py): refused by field in Vietnamese with the bound,
text stored without control characters and composed; the plan checks stay linear in the number of
tasks and say the same as before."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from services.plans.domain import Directory, PlanIn, TaskIn, Unit, check_plan
from shared import limits
from shared.errors import FieldProblem
from shared.validation import vietnamese


class Report(BaseModel):
    title: limits.RequiredTitle
    note: limits.Note = ""
    lines: list[limits.Name] = []


def refusals(**fields: Any) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        Report.model_validate({"title": "Báo cáo", **fields})
    return [vietnamese(e) for e in refused.value.errors()]


def test_text_over_its_bound_is_refused_in_vietnamese_with_the_bound() -> None:
    assert refusals(note="x" * (limits.NOTE + 1)) == [f"tối đa {limits.NOTE} ký tự"]
    assert refusals(title="x" * (limits.TITLE + 1)) == [f"tối đa {limits.TITLE} ký tự"]


def test_a_required_title_of_only_spaces_or_control_characters_is_missing() -> None:
    assert refusals(title=" \u0007\x0b ") == ["cần ít nhất 1 ký tự"]


def test_control_characters_are_removed_and_text_composed_tabs_and_line_breaks_kept() -> None:
    typed = unicodedata.normalize("NFD", "Phường Hội Phú") + "\u0007\x0b\x0c\x00\x7f\ufffe\uffff\tx\ny\r\n"
    report = Report(title="Báo\x1f cáo", note=typed, lines=["Ủy\x08 ban"])
    assert (report.title, report.note, report.lines) == ("Báo cáo", "Phường Hội Phú\tx\ny\r\n", ["Ủy ban"])
    assert report.note.startswith("Phường Hội Phú")  # composed: the same characters as typed in NFC


def test_the_bounds_are_in_the_openapi_schema_of_a_plan() -> None:
    task = PlanIn.model_json_schema()["$defs"]["TaskIn"]["properties"]
    assert task["title"]["maxLength"] == limits.TITLE and task["lead"]["maxItems"] == limits.MANY
    assert PlanIn.model_json_schema()["properties"]["tasks"]["maxItems"] == limits.MAX_TASKS


class CountedRef(str):
    """A task number that counts how often it is compared."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        CountedRef.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


PROVINCE = Unit(code="52", name="Tỉnh Gia Lai", level="province", parent=None, path="52")
COMMUNE = Unit(code="21787", name="Xã Vĩnh Sơn", level="commune", parent="52", path="52.21787")
DIRECTORY = Directory(units={"52": PROVINCE, "21787": COMMUNE}, children=[COMMUNE], bodies=[])


def plan_of(refs: list[str]) -> PlanIn:
    # model_construct: past the request's bound on tasks, to see the check's own cost
    tasks = [TaskIn(ref="x", title="Tin bài", lead=["21787"], timeline="Quý I") for _ in refs]
    for task, ref in zip(tasks, refs, strict=True):
        object.__setattr__(task, "ref", ref)
    return PlanIn.model_construct(
        number="", title="Kế hoạch", issuer="52", period="2026", areas=[], channels=[], tasks=tasks
    )


def test_the_duplicate_task_number_check_compares_each_number_a_bounded_number_of_times() -> None:
    refs = [CountedRef(f"{i // 100}.{i % 100}") for i in range(5_000)] + [CountedRef("0.0")]
    CountedRef.compared = 0
    problems = check_plan(plan_of(refs), directory=DIRECTORY)
    # the old scan of the numbers before each one compared about 12.5 million times
    assert CountedRef.compared <= 2 * len(refs)
    assert problems == [FieldProblem("tasks[5000].ref", "số thứ tự '0.0' bị trùng")]


def test_every_repeated_task_number_is_named_where_it_repeats() -> None:
    problems = check_plan(plan_of(["1", "2", "1", "3", "2", "1"]), directory=DIRECTORY)
    assert problems == [
        FieldProblem("tasks[2].ref", "số thứ tự '1' bị trùng"),
        FieldProblem("tasks[4].ref", "số thứ tự '2' bị trùng"),
        FieldProblem("tasks[5].ref", "số thứ tự '1' bị trùng"),
    ]
