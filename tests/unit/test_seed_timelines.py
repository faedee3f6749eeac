"""Every timeline in the appendix tables of the real plans (../shared/seeds, beside the project)
parses, and so does its OCR-damaged form."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.periods import Period
from shared.timelines import occurrences, parse_timeline
from shared.workdays import WorkingCalendar

pytestmark = pytest.mark.unit

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"


def appendix_timelines(name: str) -> list[str]:
    """The 'Thời gian thực hiện' column of the tab-separated appendix rows."""
    column: int | None = None
    found: list[str] = []
    for line in (SEEDS / name).read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.split("\t")]
        headers = [i for i, c in enumerate(cells) if c.startswith("Thời gian thực hiện")]
        if headers:
            column = headers[0]
        elif column is not None and len(cells) > column and cells[column]:
            found.append(cells[column])
    return found


def seed(prefix: str) -> str:
    matches = sorted(p.name for p in SEEDS.glob(f"{prefix}_*.txt"))
    assert matches, f"the real plans are expected in {SEEDS}"
    return matches[0]


@pytest.mark.parametrize(
    ("prefix", "year", "kinds"),
    [
        ("001", 2026, {"ongoing", "periodic"}),
        ("004", 2025, {"ongoing", "quarter", "month", "year", "deadline"}),
    ],
)
def test_every_appendix_timeline_of_the_seeds_parses_and_expands(prefix: str, year: int, kinds: set[str]) -> None:
    texts = appendix_timelines(seed(prefix))
    assert len(texts) >= 7
    schedules = [parse_timeline(text) for text in texts]
    assert {s.kind for s in schedules} == kinds
    for schedule in schedules:
        assert occurrences(schedule, Period("year", year), calendar=WorkingCalendar())


def test_the_reporting_cycle_written_in_a_duties_paragraph_parses() -> None:
    assert parse_timeline("quý I, 6 tháng đầu năm, quý III").cycle == ["Q1", "H1", "Q3"]


@pytest.mark.parametrize(
    ("damaged", "clean"),
    [
        ("Thuong xuyen", "Thường xuyên"),
        ("Dinh ky 01 lan/quy", "Định kỳ 01 lần/quý"),
        ("Quy Ill nam 2025", "Quý III năm 2025"),
        ("Thang 02 / 2025", "Tháng 02/2025"),
        ("Trong nam 2025", "Trong năm 2025"),
        ("Truoc ngay 30/11/2025", "Trước ngày 30/11/2025"),
        ("THỜI GIAN THỰC HIỆN: Trong quý Il năm 2025", "Trong quý II năm 2025"),
    ],
)
def test_ocr_damaged_timelines_parse_like_the_clean_ones(damaged: str, clean: str) -> None:
    assert parse_timeline(damaged).model_dump(exclude={"text"}) == parse_timeline(clean).model_dump(exclude={"text"})
