"""Who may do what (shared/access.py): whole-path scopes, review by the direct parent only, and
403 messages that name the right."""

from __future__ import annotations

import pytest

from shared.access import EVERYWHERE, Caller, Right, Role, rights_of, within
from shared.errors import Forbidden

pytestmark = pytest.mark.unit


def person(path: str, *roles: Role) -> Caller:
    return Caller(subject="user:x", unit_path=path, rights=rights_of(roles), roles=roles)


def test_within_compares_whole_paths_segment_by_segment() -> None:
    assert within("52.21787", "52") and within("52", "52") and within("52.21787.VHXH", "52.21787")
    assert not within("521.1", "52")  # a code that only starts the same
    assert not within("48.20000.VHXH", "52.21787.VHXH")  # the same body code in another commune
    assert not within("52", "52.21787")  # never upwards
    assert within("48.1", EVERYWHERE)


def test_roles_carry_their_rights() -> None:
    assert rights_of([Role.officer]) == {Right.read, Right.report}
    assert Right.plan in rights_of([Role.head]) and Right.admin not in rights_of([Role.head])
    assert rights_of([Role.auditor]) == {Right.read}
    assert rights_of([Role.admin]) == {Right.read, Right.admin}


def test_an_officer_reports_in_its_subtree_only() -> None:
    officer = person("52.21787", Role.officer)
    assert officer.may(Right.report, "52.21787") and officer.may(Right.report, "52.21787.VHXH")
    assert not officer.may(Right.report, "52.21790") and not officer.may(Right.report, "52")
    assert not officer.may(Right.plan, "52.21787")


def test_review_is_for_the_direct_parent_only() -> None:
    province = person("52", Role.head)
    assert province.may(Right.review, "52.21787")
    assert not province.may(Right.review, "52.21787.VHXH")  # a body of a commune: the commune reviews
    assert not person("52.21787", Role.head).may(Right.review, "52.21787")  # not its own report
    assert not person("52", Role.officer).may(Right.review, "52.21787")


def test_refusals_name_the_right_and_the_unit() -> None:
    with pytest.raises(Forbidden, match=r"\(plan\)"):
        person("52.21787", Role.officer).require(Right.plan, "52.21787")
    with pytest.raises(Forbidden, match="21790"):
        person("52.21787", Role.officer).require(Right.report, "52.21790")
    with pytest.raises(Forbidden, match="cấp trên trực tiếp"):
        person("52.21787", Role.head).require(Right.review, "52.21790")


def test_a_list_is_read_for_the_subtree_asked_if_it_lies_in_the_callers() -> None:
    officer = person("52.21787", Role.officer)
    assert officer.scope_for(None) == "52.21787"
    assert officer.scope_for("52.21787.VHXH") == "52.21787.VHXH"
    with pytest.raises(Forbidden):
        officer.scope_for("52")


def test_a_unit_above_the_caller_is_refused_from_its_path_alone() -> None:
    officer = person("52.21787.VHXH", Role.officer)
    for code in ("52", "21787"):
        with pytest.raises(Forbidden):
            officer.refuse_above(code)
    officer.refuse_above("VHXH")  # itself
    officer.refuse_above("21790")  # beside it: for the service's own data to say
    person(EVERYWHERE, Role.auditor).refuse_above("52")
