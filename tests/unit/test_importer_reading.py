"""How the plan importer reads damaged words back (issue 19): a timeline cell by trying each
word's readings whole against the timeline parser, labels and body names as whole phrases, and
what it leaves alone (a real phrase is no damaged copy of another, a plan's own longer name is
its own)."""

from __future__ import annotations

import pytest

from services.plans.importer import parse_plan
from services.plans.importer.lists import facts_in
from services.plans.importer.names import BodyNames, common_body, lost_letters
from services.plans.importer.timewords import read_timeline
from services.plans.importer.vocabulary import label_column, repaired_phrases

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("cell", "reading"),
    [
        ("háng 3/2025", {"kind": "month", "month": 3, "year": 2025}),  # "tháng" lost its t: not "hằng"
        ("Hằn tban", {"kind": "periodic", "every": "month"}),
        ("Thán S/2026", {"kind": "month", "month": 5, "year": 2026}),
        ("Trước gày 1S/02/2026", {"kind": "deadline"}),
        ("trước UBND ngày 31/10/2026", {"kind": "deadline"}),
        ("Cả nă", {"kind": "year"}),
    ],
)
def test_a_damaged_timeline_is_read_by_the_reading_the_parser_understands(
    cell: str, reading: dict[str, object]
) -> None:
    found = read_timeline(cell)
    assert found is not None
    assert found.schedule.model_dump(exclude_none=True).items() >= reading.items()


def test_a_timeline_no_reading_makes_sense_of_is_no_reading() -> None:
    assert read_timeline("Tháng 6 và tháng 12") is None
    assert read_timeline("Pịnh kỳ 01") is None


def test_labels_are_matched_as_whole_phrases_and_other_headings_are_no_labels() -> None:
    assert label_column("Phố| hợp") == ("coordinating", 1.0)
    assert label_column("Tbời gan tbuc hiệri")[0] == "timeline"  # type: ignore[index]
    assert label_column("hủ trì")[0] == "lead"  # type: ignore[index]
    assert label_column("Sảri phẩm")[0] == "products"  # type: ignore[index]
    for heading in ("Nội dung", "Thời điểm", "Ghi chú", "Kinh phí", "Đối tượng"):
        assert label_column(heading) is None


def test_a_mass_organisation_with_letters_lost_is_read_back_at_its_level_with_a_confidence() -> None:
    names = BodyNames.standard()
    for damaged, body in [
        ("Hội Lên hiệp Phụ nữ xa", "Hội Liên hiệp Phụ nữ xã"),  # "Lên", "xa": real words, the phrase is not
        ("Đoàn Thanh niên ã", "Đoàn Thanh niên xã"),
        ("Côn an ỉnh", "Công an tỉnh"),
        ("Ủy ban MTTQ Việt Nam đặc khu", "Ủy ban Mặt trận Tổ quốc Việt Nam đặc khu"),
    ]:
        resolved = names.resolve(damaged)
        assert resolved.name == body and 0.85 <= resolved.confidence <= 1
    # a body with more words than a common one is no common body at no level
    assert common_body("Tổ công nghệ số cộng đồng các thôn") is None
    assert common_body("Trường Tiểu học số 1") is None


def test_a_name_with_letters_lost_is_a_damaged_copy_but_one_with_words_added_is_its_own() -> None:
    assert lost_letters("Con an phuon", "Công an phường")
    assert not lost_letters(
        "Trung tâm Văn hóa thông tin và Thể dục thể thao", "Trung tâm Văn hóa, Thông tin và Thể thao"
    )
    assert not lost_letters("Phòng Văn hóa và Thông tin", "Phòng Văn hóa - Xã hội")


def test_a_real_phrase_is_not_read_as_another_report_phrase() -> None:
    assert "9 thang nam 2026" in repaired_phrases("bao cao ket qua 9 thang nam 2026")
    assert "bao cao" in repaired_phrases("ao cao ket qua")
    assert "bao cao ket qua nam 2026" in repaired_phrases("bao cao et qua nam 2026")


def test_a_damaged_collective_body_is_read_back_part_by_part_and_a_real_one_kept() -> None:
    names = BodyNames.standard(common=False)
    for damaged, read in (
        ("Các sở, ban, nành ỉnh; UBND các xã, phường", "Các sở, ban, ngành tỉnh; UBND các xã, phường"),
        ("Các đoàn thể và Trưởng các hôn", "Các đoàn thể và Trưởng các thôn"),
        ("Các phòng, ban, đn vị sự nghiệp thuộc buyện", "Các phòng, ban, đơn vị sự nghiệp thuộc huyện"),
        ("ác ban, ngành, đoàn thể xã và Trưởng các thôn", "Các ban, ngành, đoàn thể xã và Trưởng các thôn"),
    ):
        assert names.resolve(damaged).text == read
    for real in ("Các hộ gia đình", "Các cơ quan báo chí", "Các cơ sở giáo dục"):
        assert names.resolve(real).text == real


def test_a_common_body_in_each_place_is_read_back_as_text_and_an_unsure_place_kept() -> None:
    names = BodyNames.standard()
    for damaged in ("Tổ công nghi s cộng đồng các thôn", "Tổ công nghệ số cộn đồng các thôn"):
        resolved = names.resolve(damaged)
        assert (resolved.text, resolved.name) == ("Tổ công nghệ số cộng đồng các thôn", None)
    assert names.resolve("Tổ công nghệ số cộng đồng cá ản").text == "Tổ công nghệ số cộng đồng cá ản"
    assert names.resolve("Hội Nông dân các thôn").text == "Hội Nông dân các thôn"


def test_an_abbreviation_with_its_d_read_as_cl_is_read_back_and_a_label_after_a_sentence_is_found() -> None:
    names = BodyNames.standard()
    assert names.resolve("Văn phòng HĐNCL và UBND").name == "Văn phòng HĐND và UBND"
    assert names.resolve("CLB Văn nghệ").text == "CLB Văn nghệ"
    joined = "Tuyên truyền tại nhà văn hóa các thôn. hủ trì: Công an xã; Phối hợp: Đoàn Thanh niên xã"
    assert facts_in(joined) == [("lead", "Công an xã"), ("coordinating", "Đoàn Thanh niên xã")]


PLAN = """ỦY BAN NHÂN DÂN
XÃ AN BÌNH
Số: 12/KH-UBND
An Bình, ngày 10 tháng 01 năm 2026
KẾ HOẠCH
Tuyên truyền cải cách hành chính năm 2026
I. MỤC ĐÍCH
Nâng cao nhận thức.
PHỤ LỤC
TT\tNhiệm vụ\tĐơn vị chủ trì\tĐơn vị phối hợp\tThời gian thực hiện
1\tTuyên truyền trên loa truyền thanh\tCông an xã\tHội Lên hiệp Phụ nữ xa\tQuý I/2025
2\tPhát tờ rơi\tCông an xã\tĐoàn Thanh niên xã\tQuý II/2026
"""


def test_a_quarter_over_before_the_plan_was_issued_is_warned_of_and_a_damaged_body_read_back() -> None:
    draft = parse_plan(PLAN.encode(), "plan.txt")
    first, second = draft.tasks
    messages = [w.message for w in draft.notes.items if w.line == first.line]
    assert any("đã qua trước ngày ban hành" in m for m in messages)
    assert not any(w.line == second.line for w in draft.notes.items)  # Q2 of the plan's year: as written
    assert [(b.name, round(b.confidence, 2)) for b in first.coordinating] == [("Hội Liên hiệp Phụ nữ xã", 0.97)]


DUTIES = PLAN.replace(
    "PHỤ LỤC",
    """II. TỔ CHỨC THỰC HIỆN
1. Phòng Văn hóa - Xã hội:
Tham mưu UBND xã báo cáo kết quả 6 tbág đầu năm trước ngày 10/6/2026 và cả năm trước ngày 20/11/2026.
Báo cáo kết qả khảo sát 6 tháng đầu năm về UBND xã trước ngày 12/6/2026.
2. Công an xã:
Tổng hợp, báo cáo kết quả cải cách hành chính qý III/2026 về UBND xã.
PHỤ LỤC""",
)


def test_report_periods_read_on_a_second_look_take_their_own_dates_with_a_warning() -> None:
    draft = parse_plan(DUTIES.encode(), "plan.txt")
    first, second = (duty.as_json() for duty in draft.duties)
    assert {(r["every"], r["by"]) for r in first["reporting"]} == {
        ("half", "2026-06-10"),
        ("year", "2026-11-20"),
        ("half", "2026-06-12"),
    }
    assert [r["every"] for r in second["reporting"]] == ["quarter"]
    warned = [w.message for w in draft.notes.items if w.line is not None]
    assert any("hạn của year" in m for m in warned) and any("(quarter)" in m for m in warned)
