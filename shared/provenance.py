"""What a consumer can check of where an event came from. The server does not authenticate
publishers (NATS permissions confine who may publish what, but a consumer should not bet a
subtree's lock on them): an event is taken only if its envelope names the service that owns its
family, if what its payload says of units agrees with its subject, and if its version follows,
one by one, the versions the owner published before it. Pure: the bus and the handlers apply it."""

from __future__ import annotations

import functools
from enum import Enum

from pydantic import BaseModel

from shared.access import parent_path, within
from shared.events import (
    PlanAmended,
    PlanClosed,
    PlanDrafted,
    PlanIssued,
    ReportReviewed,
    ReportSubmitted,
    UnitCreated,
    UnitRef,
    UnitRenamed,
    UnitSucceeded,
)
from shared.units import ancestors, parent

# The one service that publishes each event family (docs ARCHITECTURE.md, "Services and what
# each owns"); its NATS user is the only one allowed to publish on the family's subjects.
OWNERS: dict[str, str] = {
    "unit": "plans",
    "plan": "plans",
    "assignment": "tasks",
    "progress": "tasks",
    "occurrence": "tasks",
    "notification": "notify",
    "report": "reports",
}


def owner(event_type: str) -> str | None:
    return OWNERS.get(event_type.split(".", 1)[0])


# Families every service publishes about its own writes; the subject's unit is the actor's.
SHARED_FAMILIES = {"audit": frozenset(OWNERS.values())}  # every service audits its own writes


def producer_problem(event_type: str, producer: str) -> str | None:
    """Why `producer` cannot have published `event_type`, or None."""
    family = event_type.split(".", 1)[0]
    if family in SHARED_FAMILIES:
        ok = producer in SHARED_FAMILIES[family]
        return None if ok else f"{event_type} from producer {producer!r}: not one of the services"
    expected = owner(event_type)
    if producer != expected:
        return f"{event_type} from producer {producer!r}: only {expected} publishes {event_type.split('.', 1)[0]}.*"
    return None


def _code(path: str) -> str:
    return ancestors(path)[-1]


def _ref_problem(ref: UnitRef, field: str) -> str | None:
    if ref.code != _code(ref.path):
        return f"{field} code {ref.code!r} is not the unit at {ref.path}"
    return None


def _plan_problems(event: PlanIssued | PlanAmended | PlanClosed, unit_path: str) -> list[str | None]:
    problems = [_ref_problem(event.issuer, "issuer")]
    if event.issuer.path != unit_path:
        problems.append(f"issuer {event.issuer.path} is not the subject's unit {unit_path}")
    if isinstance(event, PlanClosed):
        return problems
    # plans issues every plan as version 1; each amendment is the next version
    if isinstance(event, PlanIssued) and event.version != 1:
        problems.append(f"plan.issued with version {event.version}: a plan is issued as version 1")
    if isinstance(event, PlanAmended) and event.version < 2:
        problems.append(f"plan.amended with version {event.version}: amendments start at version 2")
    for task in event.tasks:
        for role, units in (("lead", task.lead), ("coordinating", task.coordinating)):
            for unit in units:
                problems.append(_ref_problem(unit, f"task {task.ref} {role}"))
                if not within(unit.path, unit_path):
                    problems.append(f"task {task.ref} {role} {unit.path} is not under the issuer {unit_path}")
    return problems


def _unit_problems(event: UnitCreated | UnitRenamed, unit_path: str) -> list[str | None]:
    problems: list[str | None] = []
    if event.path != unit_path:
        problems.append(f"unit path {event.path} is not the subject's unit {unit_path}")
    if event.code != _code(event.path):
        problems.append(f"unit code {event.code!r} is not the unit at {event.path}")
    if event.parent != parent(event.path):
        problems.append(f"parent {event.parent!r} is not the unit above {event.path}")
    return problems


@functools.lru_cache(maxsize=1 << 14)
def _unit_ref_problems(code: str, path: str, unit_path: str) -> tuple[str, ...]:
    """What is wrong with a payload's `unit` on the subject of `unit_path` (remembered: the
    units are few, their events many)."""
    problems = [] if code == _code(path) else [f"unit code {code!r} is not the unit at {path}"]
    if path != unit_path:
        problems.append(f"unit {path} is not the subject's unit {unit_path}")
    return tuple(problems)


# the events whose payloads say more of units than their `unit`
_CHECKED_FURTHER = (
    UnitCreated,
    UnitRenamed,
    UnitSucceeded,
    PlanDrafted,
    PlanIssued,
    PlanAmended,
    PlanClosed,
    ReportSubmitted,
    ReportReviewed,
)


def payload_problem(event: BaseModel, unit_path: str) -> str | None:
    """Why what `event` says of units disagrees with its subject's unit `unit_path`, or None:
    a unit's code is the last segment of its path; a directory event describes the unit of its
    subject; a plan is the issuer's, and its leads and coordinating units lie under the issuer;
    a periodic report goes to, and is decided by, the unit directly above the reporting one."""
    problems: list[str | None] = []
    unit = getattr(event, "unit", None)
    if isinstance(unit, UnitRef):
        problems += _unit_ref_problems(unit.code, unit.path, unit_path)
    if not isinstance(event, _CHECKED_FURTHER):  # the hot events (progress, assignments): nothing more
        return "; ".join(p for p in problems if p) or None
    if isinstance(event, UnitCreated | UnitRenamed):
        problems += _unit_problems(event, unit_path)
    elif isinstance(event, UnitSucceeded):
        if event.old != _code(unit_path):
            problems.append(f"succeeded unit {event.old!r} is not the subject's unit {unit_path}")
        if event.new_path and event.new != _code(event.new_path):
            problems.append(f"successor code {event.new!r} is not the unit at {event.new_path}")
    elif isinstance(event, PlanDrafted):
        if event.issuer != _code(unit_path):
            problems.append(f"issuer {event.issuer!r} is not the subject's unit {unit_path}")
    elif isinstance(event, PlanIssued | PlanAmended | PlanClosed):
        problems += _plan_problems(event, unit_path)
    elif isinstance(event, ReportSubmitted | ReportReviewed):
        above = event.parent if isinstance(event, ReportSubmitted) else event.reviewer
        field = "parent" if isinstance(event, ReportSubmitted) else "reviewer"
        problems.append(_ref_problem(above, field))
        if above.path != parent_path(event.unit.path):
            problems.append(f"{field} {above.path} is not the unit directly above {event.unit.path}")
    found = [p for p in problems if p]
    return "; ".join(found) if found else None


class Succession(Enum):
    """How a version stands to the one a consumer holds."""

    NEXT = "next"  # the version after the one held (or the first): apply it
    SEEN = "seen"  # the one held or an older one, arriving late: nothing to do
    EARLY = "early"  # a version further on: its predecessor has not arrived (or it is forged)


def succession(version: int, *, held: int | None) -> Succession:
    """The owner numbers versions 1, 2, 3 … with no gaps (plans per amendment, reports per
    resubmission), so a version more than one past what is held is not applicable yet: wait for
    the ones between, which a forger of a huge version never supplies. `held` is None when
    nothing is known (0 for a plan known only as closed)."""
    current = held or 0
    if version <= current:
        return Succession.SEEN
    return Succession.NEXT if version == current + 1 else Succession.EARLY
