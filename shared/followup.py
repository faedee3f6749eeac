"""The follow-up rules (theo dõi, đôn đốc): the five states of an occurrence and whether a report
came in on time, in Python and as SQL, written once for every service that counts them.

An occurrence is *done* from the moment (`done_at`) its newest report says done; the day that
counts is the calendar day in Vietnam. The states, in the order they are decided:

- done_on_time (hoàn thành đúng hạn): done on or before the due date;
- done_late (hoàn thành quá hạn): done after the due date;
- overdue (quá hạn): not done, and the due date has passed;
- not_due (chưa đến kỳ): not done, not overdue, and its period has not begun;
- in_progress (đang thực hiện trong hạn): not done, within its period, due date not passed.

`state()` and `is_state()` / `state_case()` are the same rule; tests evaluate the SQL in
PostgreSQL on a table of cases and compare it with the Python.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func

from shared.clock import VN, vn_date

VN_TZ = VN.key  # for SQL: timezone(VN_TZ, instant) is the wall time in Vietnam


class FollowUp(StrEnum):
    DONE_ON_TIME = "done_on_time"
    DONE_LATE = "done_late"
    IN_PROGRESS = "in_progress"
    OVERDUE = "overdue"
    NOT_DUE = "not_due"

    @property
    def label(self) -> str:
        """The Vietnamese label officials read."""
        return LABELS[self]


LABELS: dict[FollowUp, str] = {
    FollowUp.DONE_ON_TIME: "Hoàn thành đúng hạn",
    FollowUp.DONE_LATE: "Hoàn thành quá hạn",
    FollowUp.IN_PROGRESS: "Đang thực hiện trong hạn",
    FollowUp.OVERDUE: "Quá hạn",
    FollowUp.NOT_DUE: "Chưa đến kỳ",
}
STATES: tuple[FollowUp, ...] = tuple(FollowUp)


def state(*, due: date, period_start: date, done_at: datetime | None, today: date) -> FollowUp:
    """The follow-up state of one occurrence on `today` (Vietnam calendar day)."""
    if done_at is not None:
        return FollowUp.DONE_ON_TIME if vn_date(done_at) <= due else FollowUp.DONE_LATE
    if today > due:
        return FollowUp.OVERDUE
    if today < period_start:
        return FollowUp.NOT_DUE
    return FollowUp.IN_PROGRESS


def on_time(reported_at: datetime, due: date) -> bool:
    """A report counts as on time (đúng hạn) if it came in on or before the due date, Vietnam time."""
    return vn_date(reported_at) <= due


def done_since(*, status: str, previous: datetime | None, at: datetime) -> datetime | None:
    """Since when an occurrence counts as done after a report of `status` at `at`: a report that
    says done again keeps the first moment (`previous`); any other status undoes it."""
    return (previous or at) if status == "done" else None


# --- the same rules as SQL -------------------------------------------------------------------


def vn_day(instant: Any) -> ColumnElement[date]:
    """SQL: the calendar day in Vietnam on which a timestamptz falls."""
    return func.date(func.timezone(VN_TZ, instant))


def is_state(wanted: FollowUp | str, *, due: Any, period_start: Any, done_at: Any, today: date) -> ColumnElement[bool]:
    """SQL condition: the occurrence is in state `wanted` on `today`. The five conditions are
    mutually exclusive and together cover every row, as `state()` decides."""
    done_on = vn_day(done_at)
    not_done = done_at.is_(None)
    not_overdue = and_(not_done, due >= today)
    return {
        FollowUp.DONE_ON_TIME: and_(done_at.is_not(None), done_on <= due),
        FollowUp.DONE_LATE: and_(done_at.is_not(None), done_on > due),
        FollowUp.OVERDUE: and_(not_done, due < today),
        FollowUp.NOT_DUE: and_(not_overdue, period_start > today),
        FollowUp.IN_PROGRESS: and_(not_overdue, period_start <= today),
    }[FollowUp(wanted)]


def state_case(*, due: Any, period_start: Any, done_at: Any, today: date) -> ColumnElement[str]:
    """SQL expression: the state's name, as `state()` would return it."""
    return case(
        *[(is_state(s, due=due, period_start=period_start, done_at=done_at, today=today), s.value) for s in STATES]
    )


def reported_on_time(*, reported_at: Any, due: Any) -> ColumnElement[bool]:
    """SQL: `on_time()` of a report's first arrival."""
    return vn_day(reported_at) <= due
