"""The follow-up rules in Python: states by Vietnam calendar day, on time, done since."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.followup import STATES, FollowUp, done_since, on_time, state

pytestmark = pytest.mark.unit

DUE, START = date(2026, 3, 31), date(2026, 1, 1)


def test_every_state_has_a_vietnamese_label() -> None:
    assert [s.label for s in STATES] == [
        "Hoàn thành đúng hạn",
        "Hoàn thành quá hạn",
        "Đang thực hiện trong hạn",
        "Quá hạn",
        "Chưa đến kỳ",
    ]


def test_overdue_wins_over_not_due_when_the_due_date_is_before_the_period() -> None:
    # a report staggered before its period begins (a due date earlier than the period start)
    assert state(due=date(2026, 1, 5), period_start=date(2026, 1, 10), done_at=None, today=date(2026, 1, 7)) == (
        FollowUp.OVERDUE
    )


def test_a_report_late_in_the_evening_in_vietnam_is_still_on_the_due_day() -> None:
    evening = datetime(2026, 3, 31, 16, 59, tzinfo=UTC)  # 23:59 in Vietnam
    assert on_time(evening, DUE)
    assert not on_time(datetime(2026, 3, 31, 17, 0, tzinfo=UTC), DUE)  # 00:00 on 01/04
    assert state(due=DUE, period_start=START, done_at=evening, today=date(2026, 5, 1)) == FollowUp.DONE_ON_TIME


def test_done_keeps_its_first_moment_and_any_other_status_undoes_it() -> None:
    first, later = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 9, tzinfo=UTC)
    assert done_since(status="done", previous=None, at=first) == first
    assert done_since(status="done", previous=first, at=later) == first
    assert done_since(status="in_progress", previous=first, at=later) is None
