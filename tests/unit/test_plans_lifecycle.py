"""A plan's statuses (draft → issued → amended … → closed): each action allowed from each status,
each refusal with its 409 and message; the other pure rules of a plan's life."""

from __future__ import annotations

import datetime as dt

import pytest

from services.plans.domain import (
    IMPLEMENTING_DAYS,
    Action,
    PlanIn,
    Status,
    amendment_problems,
    check_implementable,
    implementing_due,
    next_status,
    period_start,
)
from shared.errors import Conflict

pytestmark = pytest.mark.unit

ALLOWED: list[tuple[str, Action, Status]] = [
    ("draft", "edit", "draft"),
    ("draft", "issue", "issued"),
    ("issued", "amend", "amended"),
    ("amended", "amend", "amended"),
    ("issued", "close", "closed"),
    ("amended", "close", "closed"),
]
REFUSED: list[tuple[str, Action, str]] = [
    ("issued", "edit", "kế hoạch 33/KH-UBND đã ban hành; dùng điều chỉnh (amend) thay vì sửa"),
    ("amended", "edit", "kế hoạch 33/KH-UBND đã ban hành; dùng điều chỉnh (amend) thay vì sửa"),
    ("closed", "edit", "kế hoạch 33/KH-UBND đã ban hành; dùng điều chỉnh (amend) thay vì sửa"),
    ("issued", "issue", "kế hoạch 33/KH-UBND đã ở trạng thái 'issued', chỉ dự thảo mới ban hành được"),
    ("amended", "issue", "kế hoạch 33/KH-UBND đã ở trạng thái 'amended', chỉ dự thảo mới ban hành được"),
    ("closed", "issue", "kế hoạch 33/KH-UBND đã ở trạng thái 'closed', chỉ dự thảo mới ban hành được"),
    ("draft", "amend", "chỉ điều chỉnh được kế hoạch đã ban hành (trạng thái hiện tại: 'draft')"),
    ("closed", "amend", "chỉ điều chỉnh được kế hoạch đã ban hành (trạng thái hiện tại: 'closed')"),
    ("draft", "close", "chỉ kết thúc được kế hoạch đã ban hành (trạng thái hiện tại: 'draft')"),
    ("closed", "close", "chỉ kết thúc được kế hoạch đã ban hành (trạng thái hiện tại: 'closed')"),
]


@pytest.mark.parametrize(("status", "action", "after"), ALLOWED)
def test_an_allowed_action_moves_the_plan_to_its_next_status(status: str, action: Action, after: Status) -> None:
    assert next_status(status, action, plan="33/KH-UBND") == after


@pytest.mark.parametrize(("status", "action", "message"), REFUSED)
def test_a_refused_action_is_a_conflict_naming_the_plan_and_its_status(
    status: str, action: Action, message: str
) -> None:
    with pytest.raises(Conflict) as refused:
        next_status(status, action, plan="33/KH-UBND")
    assert str(refused.value) == message


def test_every_status_and_action_is_either_allowed_or_refused() -> None:
    statuses = ("draft", "issued", "amended", "closed")
    actions = ("edit", "issue", "amend", "close")
    covered = {(s, a) for s, a, _ in ALLOWED} | {(s, a) for s, a, _ in REFUSED}
    assert covered == {(s, a) for s in statuses for a in actions}


def test_a_draft_parent_plan_cannot_be_implemented_and_an_issued_one_can() -> None:
    with pytest.raises(Conflict, match="^kế hoạch cấp trên chưa ban hành$"):
        check_implementable("draft")
    for status in ("issued", "amended", "closed"):
        check_implementable(status)


def test_child_units_get_the_first_due_date_given_else_thirty_days() -> None:
    today = dt.date(2026, 3, 2)
    asked, planned = dt.date(2026, 4, 1), dt.date(2026, 5, 1)
    assert implementing_due(asked, planned, today=today) == asked
    assert implementing_due(None, planned, today=today) == planned
    assert implementing_due(None, None, today=today) == dt.date(2026, 4, 1)
    assert IMPLEMENTING_DAYS == 30


def _plan(**changes: str) -> PlanIn:
    fields = {"number": "33/KH-UBND", "title": "Kế hoạch CCHC", "issuer": "52", "period": "2026"}
    return PlanIn.model_validate({**fields, **changes, "tasks": [{"ref": "1", "title": "Tuyên truyền"}]})


def test_an_amendment_keeps_issuer_and_period_and_needs_a_number() -> None:
    assert amendment_problems(_plan(), issuer="52", period="2026") == []
    refused = amendment_problems(_plan(issuer="48", period="2027", number=""), issuer="52", period="2026")
    assert [(p.field, p.message) for p in refused] == [
        ("issuer", "không đổi được khi điều chỉnh kế hoạch"),
        ("period", "không đổi được khi điều chỉnh kế hoạch"),
        ("number", "kế hoạch đã ban hành phải có số, ký hiệu"),
    ]


def test_a_plan_period_starts_on_its_first_day_and_an_unreadable_one_never() -> None:
    assert period_start("2026-Q2") == dt.date(2026, 4, 1)
    assert period_start("not a period") == dt.date.max
