"""The public event contract: one envelope, typed payloads, subjects that carry type and unit path.

Subject: `<prefix>.<family>.<verb>.<unit path>`, e.g. `cchc.progress.reported.52.21787`, so a
consumer subscribes by type (`cchc.progress.reported.>`) or by subtree (`cchc.*.*.52.>`).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from shared.deadlines import DueRules, UnitLevel
from shared.timelines import Schedule

SCHEMA_VERSION = 1  # what this code writes in the envelopes it makes
# The envelope versions this code can read: an event from a newer producer is parked on the
# dead-letter stream (shared.bus.decode), never applied as if it were one of these.
READABLE_SCHEMA_VERSIONS = frozenset({SCHEMA_VERSION})


class Actor(BaseModel):
    """Who made the write an event comes from: a user (`user:<id>`, `oidc:<sub>`) or a machine
    client (`token:<id>`), acting as a unit (its path; "*" national)."""

    subject: str
    unit: str
    name: str = ""


class Envelope(BaseModel):
    id: uuid.UUID
    type: str
    version: int = SCHEMA_VERSION
    occurred_at: AwareDatetime
    unit: str = Field(description="Đường dẫn đơn vị (unit path) the event concerns, e.g. 52.21787")
    producer: str
    actor: Actor | None = Field(
        None, description="who made the write the event comes from; none for what the system did on its own"
    )
    payload: dict[str, Any]


# The actor of the request being served (set by its access declaration, shared/auth.py) or of
# the event being handled (set by the bus): the actor of the events they cause.
current_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("cchc_actor", default=None)


# --- payloads -------------------------------------------------------------------------------


class UnitCreated(BaseModel):
    """unit.created — a unit entered the directory (đơn vị hành chính / cơ quan)."""

    code: str
    name: str
    level: UnitLevel
    parent: str | None
    path: str
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


class UnitRenamed(BaseModel):
    """unit.renamed — a body or unit changed its name (history keeps the code); carries the
    whole unit, so a consumer that has not seen unit.created yet can still apply it."""

    code: str
    name: str
    level: UnitLevel
    parent: str | None
    path: str


class UnitSucceeded(BaseModel):
    """unit.succeeded — an ended unit's history rolls up to `new` (merge, split, abolition).
    `default` marks the successor that receives the roll-up when a unit was split."""

    old: str
    new: str
    default: bool = True
    new_path: str = ""
    new_name: str = ""


class UnitRef(BaseModel):
    code: str
    path: str
    name: str = ""
    level: UnitLevel | None = None  # lets deadlines be staggered by level


MAX_COUNT = 1_000_000_000  # no commune produces a billion of anything; bigger is a typing error


class ProductTarget(BaseModel):
    kind: str
    target: int = Field(ge=0, le=MAX_COUNT)


class PlanTask(BaseModel):
    ref: str
    title: str
    lead: list[UnitRef]
    coordinating: list[UnitRef] = []
    schedule: Schedule
    products: list[ProductTarget] = []
    area: str | None = None
    channels: list[str] = []


class PlanDrafted(BaseModel):
    """plan.drafted — a draft plan was saved (not yet binding)."""

    plan_id: uuid.UUID
    number: str
    title: str
    issuer: str
    period: str


class PlanIssued(BaseModel):
    """plan.issued — a plan was issued; carries what other services need to act on it."""

    plan_id: uuid.UUID
    number: str
    title: str
    issuer: UnitRef
    period: str
    tasks: list[PlanTask]
    version: int = 1
    parent_plan_id: uuid.UUID | None = None
    due_rules: DueRules | None = None  # the plan's own report deadlines; None: the deployment's


class TaskChanges(BaseModel):
    added: list[str] = []
    removed: list[str] = []
    changed: list[str] = []


class PlanAmended(BaseModel):
    """plan.amended — a new version of an issued plan; `tasks` is the whole new task list and
    `changes` names the task refs added, removed and changed."""

    plan_id: uuid.UUID
    number: str
    title: str
    issuer: UnitRef
    period: str
    version: int
    tasks: list[PlanTask]
    changes: TaskChanges
    due_rules: DueRules | None = None


class PlanClosed(BaseModel):
    """plan.closed — the plan is finished; no more progress is accepted for it."""

    plan_id: uuid.UUID
    number: str
    issuer: UnitRef


class AssignmentCreated(BaseModel):
    """assignment.created — a unit must do (and report) a task in one period;
    assignment.updated (same payload) — an amendment reworded or rescheduled it."""

    assignment_id: uuid.UUID
    plan_id: uuid.UUID
    plan_number: str
    task_ref: str
    task_title: str
    unit: UnitRef
    role: Literal["lead", "coordinating"]
    period: str
    due: dt.date


class ProgressReported(BaseModel):
    """progress.reported — a unit reported on one occurrence; progress.corrected (same payload)
    — a later report for the same occurrence, which replaces the earlier one's numbers."""

    report_id: uuid.UUID
    assignment_id: uuid.UUID
    plan_id: uuid.UUID
    unit: UnitRef
    period: str
    due: dt.date
    status: Literal["not_started", "in_progress", "done", "cannot_do"]
    outputs: dict[str, int]
    reported_at: AwareDatetime
    on_time: bool
    reason: str = ""
    evidence: list[dict[str, Any]] = []  # links, document numbers, files (name, type, size, url)
    note: str = ""
    good_model: str = ""  # a practice worth spreading (mô hình hay, cách làm hiệu quả)
    done_at: AwareDatetime | None = None  # since when the assignment counts as done (status done)


class AssignmentCancelled(BaseModel):
    """assignment.cancelled — an amendment removed an assignment that had no report yet."""

    assignment_id: uuid.UUID
    plan_id: uuid.UUID
    unit: UnitRef
    period: str
    reason: str


class OccurrenceDueSoon(BaseModel):
    """occurrence.due_soon — `days_left` days before the due date (sent once per lead time)."""

    assignment_id: uuid.UUID
    plan_id: uuid.UUID
    task_ref: str
    task_title: str
    unit: UnitRef
    period: str
    due: dt.date
    lead_days: int
    days_left: int
    plan_number: str = ""
    role: Literal["lead", "coordinating"] = "lead"


class OccurrenceOverdue(BaseModel):
    """occurrence.overdue — the due date passed with no report (Vietnam time)."""

    assignment_id: uuid.UUID
    plan_id: uuid.UUID
    task_ref: str
    task_title: str
    unit: UnitRef
    period: str
    due: dt.date
    plan_number: str = ""
    role: Literal["lead", "coordinating"] = "lead"


class ReportSubmitted(BaseModel):
    """report.submitted — a unit submitted its periodic report for a period to its parent; a
    resubmission after a return is a new version."""

    report_id: uuid.UUID
    unit: UnitRef
    period: str
    version: int = Field(ge=1)
    parent: UnitRef  # the unit that accepts or returns it
    submitted_at: AwareDatetime


class ReportReviewed(BaseModel):
    """report.accepted / report.returned — the parent's decision on a submitted version; a
    returned report carries the reason and is resubmitted as a new version."""

    report_id: uuid.UUID
    unit: UnitRef  # the reporting unit
    period: str
    version: int = Field(ge=1)
    reviewer: UnitRef
    reason: str = ""
    decided_at: AwareDatetime


class NotificationFailed(BaseModel):
    """notification.failed — a message could not be delivered over a channel after its last
    attempt; it waits in the dead-letter list for an operator to re-drive it."""

    notification_id: uuid.UUID
    delivery_id: uuid.UUID
    kind: str  # assigned | due_soon | overdue …
    unit: UnitRef
    contact_id: uuid.UUID
    channel: str  # email | webhook
    attempts: int
    error: str
    next_channel: str | None = None  # the contact's next channel, now being tried


class AuditRecorded(BaseModel):
    """audit.recorded — a write was made: by whom, as which unit, on which route and objects,
    with which body (secrets blanked) and, where the service noted it, the state before."""

    service: str
    actor: Actor
    method: str
    route: str  # the route's template, e.g. /api/assignments/{assignment_id}/progress
    path: str
    params: dict[str, str] = {}
    query: dict[str, Any] = {}
    body: Any = None
    before: Any = None
    address: str = ""


EVENT_TYPES: dict[str, type[BaseModel]] = {
    "unit.created": UnitCreated,
    "unit.renamed": UnitRenamed,
    "unit.succeeded": UnitSucceeded,
    "plan.drafted": PlanDrafted,
    "plan.issued": PlanIssued,
    "plan.amended": PlanAmended,
    "plan.closed": PlanClosed,
    "assignment.created": AssignmentCreated,
    "assignment.updated": AssignmentCreated,
    "assignment.cancelled": AssignmentCancelled,
    "progress.reported": ProgressReported,
    "progress.corrected": ProgressReported,
    "occurrence.due_soon": OccurrenceDueSoon,
    "occurrence.overdue": OccurrenceOverdue,
    "notification.failed": NotificationFailed,
    "report.submitted": ReportSubmitted,
    "report.accepted": ReportReviewed,
    "report.returned": ReportReviewed,
    "audit.recorded": AuditRecorded,
}

# Stream per event family; the dead-letter stream keeps what consumers could not handle.
FAMILIES = ("unit", "plan", "assignment", "progress", "occurrence", "notification", "report", "audit")
DEAD_LETTER = "dlq"


def subject(prefix: str, event_type: str, unit_path: str) -> str:
    return f"{prefix}.{event_type}.{unit_path}"


def stream_name(prefix: str, family: str) -> str:
    return f"{prefix}_{family}".upper().replace(".", "_").replace("-", "_")


def make_event(
    event_type: str,
    *,
    unit_path: str,
    producer: str,
    payload: BaseModel,
    at: dt.datetime,
    actor: Actor | None = None,
) -> Envelope:
    if EVENT_TYPES.get(event_type) is not type(payload):  # noqa: E721 - the exact contract class
        raise TypeError(f"{event_type} does not carry {type(payload).__name__}")
    return _envelope(event_type, unit_path=unit_path, producer=producer, payload=payload, at=at, actor=actor)


def _envelope(
    event_type: str, *, unit_path: str, producer: str, payload: BaseModel, at: dt.datetime, actor: Actor | None
) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type=event_type,
        occurred_at=at,
        unit=unit_path,
        producer=producer,
        actor=actor if actor is not None else current_actor.get(),
        payload=payload.model_dump(mode="json"),
    )


@dataclass(frozen=True)
class Event:
    """An event a write causes, as routes, service functions and handlers return it; the
    runtime or the bus gives it its envelope (a new id, the producing service) in the outbox."""

    type: str
    unit_path: str
    payload: BaseModel
    at: dt.datetime
    actor: Actor | None = None  # default: the current request's or handled event's actor

    def __post_init__(self) -> None:
        if EVENT_TYPES.get(self.type) is not type(self.payload):  # noqa: E721 - the exact contract class
            raise TypeError(f"{self.type} does not carry {type(self.payload).__name__}")

    def envelope(self, producer: str) -> Envelope:
        # the payload's type was checked when the Event was made
        return _envelope(
            self.type, unit_path=self.unit_path, producer=producer, payload=self.payload, at=self.at, actor=self.actor
        )


@dataclass(frozen=True)
class Meta:
    """What a consumed event's envelope says besides its payload."""

    id: uuid.UUID
    type: str
    occurred_at: dt.datetime
    unit: str
    producer: str
    actor: Actor | None = None

    @classmethod
    def of(cls, envelope: Envelope) -> Meta:
        return cls(
            id=envelope.id,
            type=envelope.type,
            occurred_at=envelope.occurred_at,
            unit=envelope.unit,
            producer=envelope.producer,
            actor=envelope.actor,
        )
