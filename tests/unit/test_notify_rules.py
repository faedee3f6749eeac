"""Pure rules of delivery: quiet hours, back-off with jitter, templates checked before use."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from services.notify.domain import Held, Rules, backoff, digest, escalate_on, quiet_until, supervisor
from services.notify.rendering import TemplateProblem, Templates
from shared.events import UnitRef

pytestmark = pytest.mark.unit
VN_23H = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 23:00 in Vietnam


def test_quiet_hours_over_midnight_hold_messages_until_morning() -> None:
    held = quiet_until(VN_23H, time(22, 0), time(6, 30))
    assert held == datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # 06:30 on 11/03 in Vietnam
    early = VN_23H + timedelta(hours=7)  # 06:00 in Vietnam
    assert quiet_until(early, time(22, 0), time(6, 30)) == datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    day = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 10:00
    assert quiet_until(day, time(22, 0), time(6, 30)) == day
    assert quiet_until(day, time(12, 0), time(13, 30)) == day
    lunch = datetime(2026, 3, 10, 5, 15, tzinfo=UTC)  # 12:15
    assert quiet_until(lunch, time(12, 0), time(13, 30)) == datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
    assert quiet_until(VN_23H, None, None) == VN_23H


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    assert backoff(1, 30, jitter=0.5) == timedelta(seconds=30)
    assert backoff(3, 30, jitter=0.5) == timedelta(seconds=120)
    assert backoff(3, 30, jitter=0.0) == timedelta(seconds=60)
    assert backoff(3, 30, jitter=0.999) < timedelta(seconds=180)
    assert backoff(40, 30, jitter=0.5) == timedelta(hours=6)


def test_built_in_templates_render_vietnamese_with_dates_as_written() -> None:
    rendered = Templates().message(
        "due_soon",
        {
            "unit_name": "Xã Vĩnh Sơn",
            "unit_code": "21787",
            "task_ref": "1",
            "task_title": "Gửi tin, bài",
            "plan_number": "12/KH-UBND",
            "period": "quý I năm 2026",
            "due": "16/03/2026",
            "days_left": 1,
            "link": "http://x/assignments/1",
            "plan_link": "http://x/plans/1",
            "role": "lead",
        },
    )
    assert rendered.title == "Sắp đến hạn (còn 1 ngày): Gửi tin, bài"
    assert "đến hạn báo cáo ngày 16/03/2026" in rendered.body


def test_an_operator_template_with_an_unknown_variable_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "overdue.txt.j2").write_text("{{ unit_name }} quá hạn {{ han_chot }}", encoding="utf-8")
    with pytest.raises(TemplateProblem) as refused:
        Templates(str(tmp_path))
    assert "overdue.txt.j2" in str(refused.value) and "han_chot" in str(refused.value)
    (tmp_path / "overdue.txt.j2").write_text("{{ unit_name }} quá hạn {% if %}", encoding="utf-8")
    with pytest.raises(TemplateProblem, match="overdue.txt.j2"):
        Templates(str(tmp_path))
    (tmp_path / "overdue.txt.j2").write_text("{{ unit_name }} đã quá hạn ngày {{ due }}", encoding="utf-8")
    assert (
        "đã quá hạn ngày 01/04/2026"
        in Templates(str(tmp_path))
        .message(
            "overdue", {"unit_name": "Xã A", "due": "01/04/2026", "task_title": "T", "period": "", "task_ref": "1"}
        )
        .body
    )


def test_rules_layer_defaults_then_plan_then_unit() -> None:
    defaults = Rules(due_soon_days=(7, 1))
    rules = defaults.merged({"due_soon_days": [1], "coordinating": False}, {"coordinating": True, "digest": True})
    assert rules.due_soon_days == (1,) and rules.coordinating and rules.digest and rules.escalate_after_days == 3
    assert defaults.merged(None, {}).due_soon_days == (7, 1)
    plan_only = defaults.merged({"coordinating": False, "overdue": False})
    assert not plan_only.tells("coordinating", "assigned") and plan_only.tells("lead", "assigned")
    assert not plan_only.tells("lead", "overdue") and plan_only.tells("lead", "due_soon")
    with pytest.raises(ValueError, match="remind"):
        defaults.merged({"remind": True})
    with pytest.raises(ValueError, match="múi giờ"):
        defaults.merged({"digest_at": "07:00+07:00"})


def test_escalation_goes_to_the_parent_after_the_grace_period() -> None:
    assert supervisor("52.21787") == UnitRef(code="52", path="52")
    assert supervisor("L52.L523.L21787") == UnitRef(code="L523", path="L52.L523")
    assert supervisor("52") is None  # a province has no supervisor here
    assert escalate_on(date(2026, 3, 16), 3) == date(2026, 3, 20)  # overdue notice 17/03, then 3 days
    assert escalate_on(date(2026, 3, 16), 0) == date(2026, 3, 17)
    # an overdue notice sent late (an outage, a due date moved into the past) still gets its grace
    assert escalate_on(date(2026, 3, 16), 3, noticed=date(2026, 4, 2)) == date(2026, 4, 5)


def _held(kind: str, plan: str, number: str, ref: str, *, subject: uuid.UUID | None = None, **extra: object) -> Held:
    context = {
        "unit_name": "Xã Vĩnh Sơn",
        "unit_code": "21787",
        "task_ref": ref,
        "task_title": f"Nhiệm vụ {ref}",
        "plan_id": plan,
        "plan_number": number,
        "period": "quý I năm 2026",
        "due": "16/03/2026",
        "due_iso": "2026-03-16",
        "days_left": None,
        "days_late": None,
        "link": "http://x",
        "role": "lead",
        **extra,
    }
    return Held(kind, subject or uuid.uuid4(), f"tiêu đề {ref}", context)


def test_a_digest_groups_by_plan_and_lists_a_twice_reminded_task_once() -> None:
    first, second, task = str(uuid.uuid4()), str(uuid.uuid4()), uuid.uuid4()
    late = uuid.uuid4()
    items = [
        _held("due_soon", second, "15/KH-UBND", "2", subject=task, days_left=6),
        _held("overdue", first, "12/KH-UBND", "1", subject=late),
        _held("due_soon", second, "15/KH-UBND", "2", subject=task, days_left=1),  # the 1-day reminder
        _held("assigned", first, "12/KH-UBND", "3"),
        _held("assigned", first, "12/KH-UBND", "10"),
        _held("due_soon", first, "12/KH-UBND", "1", subject=late, days_left=1),  # overdue too: listed once
    ]
    note = digest("21787", "52.21787", date(2026, 3, 15), items, base_url="http://x")
    assert note.dedup_key == "digest:21787:2026-03-15" and note.kind == "digest"
    assert [p["label"] for p in note.context["plans"]] == ["Kế hoạch 12/KH-UBND", "Kế hoạch 15/KH-UBND"]
    assert note.context["counts"] == {"overdue": 1, "escalated": 0, "due_soon": 1, "assigned": 2, "reports": 0}
    assigned = [i["task_ref"] for i in note.context["plans"][0]["assigned"]]
    assert assigned == ["3", "10"]  # natural order
    body = Templates().message("digest", note.context).body
    assert "Nhiệm vụ 2 — hạn 16/03/2026 (còn 1 ngày)" in body and "còn 6 ngày" not in body
    assert body.index("Kế hoạch 12/KH-UBND") < body.index("Quá hạn:") < body.index("Kế hoạch 15/KH-UBND")
