"""Tables of the reports service, in schema `reports`: read models fed only by events."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from shared.outbox import inbox_table, outbox_table

SCHEMA = "reports"
metadata = MetaData(schema=SCHEMA)

units = Table(
    "units",
    metadata,
    Column("code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("parent", Text),
    Column("path", Text, nullable=False),
    # Every unit this one's facts count for in today's structure: its own path and, through
    # successions (merges of 2025), the path of the unit that took over.
    Column("rollup_to", ARRAY(Text), nullable=False, server_default="{}"),
    Column("named_at", DateTime(timezone=True)),  # when the name was set: a late unit.created keeps a rename
    Index("report_units_rollup_to", "rollup_to", postgresql_using="gin"),
)

successors = Table(
    "successors",
    metadata,
    Column("old_code", Text, primary_key=True),
    Column("new_code", Text, primary_key=True),
    Column("is_default", Boolean, nullable=False),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("plan_id", Uuid, nullable=False),
    Column("task_ref", Text, nullable=False),
    Column("unit_code", Text, nullable=False),
    Column("unit_path", Text, nullable=False),
    Column("ancestors", ARRAY(Text), nullable=False),  # every unit code on the path, itself included
    Column("period", Text, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("due", Date, nullable=False),
    Column("cancelled", Boolean, nullable=False, server_default="false"),
    Column("role", Text, nullable=False, server_default="lead"),  # lead | coordinating
    Column("state_at", DateTime(timezone=True)),  # occurred_at of the newest event applied
    Column("task_title", Text, nullable=False, server_default=""),
    Column("plan_number", Text, nullable=False, server_default=""),
    Index("report_assignments_ancestors", "ancestors", postgresql_using="gin"),
    Index("report_assignments_unit", "unit_code"),
)

# Plans and their tasks as issued or last amended: the content area and channels of a task
# classify the products reported against it.
plans = Table(
    "plans",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("issuer_code", Text, nullable=False),
    Column("issuer_name", Text, nullable=False, server_default=""),
    Column("period", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("closed", Boolean, nullable=False, server_default="false"),
)

plan_tasks = Table(
    "plan_tasks",
    metadata,
    Column("plan_id", Uuid, primary_key=True),
    Column("ref", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("area", Text),  # CONTENT_AREAS key
    Column("channels", ARRAY(Text), nullable=False, server_default="{}"),  # CHANNELS keys
    Column("targets", JSONB, nullable=False, server_default="{}"),  # product kind → target per assignment
)

progress = Table(
    "progress",
    metadata,
    # Facts stay on the assignment (so on the unit) that reported them; the latest report counts.
    Column("assignment_id", Uuid, primary_key=True),
    Column("report_id", Uuid, nullable=False),
    Column("status", Text, nullable=False),
    Column("outputs", JSONB, nullable=False),
    Column("first_reported_at", DateTime(timezone=True), nullable=False),
    Column("last_reported_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),  # the first report that said done
    Column("note", Text, nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),  # why it cannot be done
    Column("good_model", Text, nullable=False, server_default=""),  # a practice worth spreading
)

# The roll-ups' maintained aggregates (aggregates.py keeps them in the transaction that changes
# the facts; queries.py reads them). A fact — an assignment with its latest progress — counts for
# every unit on its own path and for the nation ("VN"): `restated` false, both views; and, in
# today's structure only, for the units its unit's `rollup_to` adds (merges): `restated` true. The
# grain is the task, so a plan amendment that changes a task's area or channels moves nothing
# (they are joined from plan_tasks when read); the due date and the period's start stay in the
# key because overdue / not due / in progress depend on the day the figures are read.
rollup_counts = Table(
    "rollup_counts",
    metadata,
    Column("unit", Text, primary_key=True),
    Column("period_start", Date, primary_key=True),
    Column("period_end", Date, primary_key=True),
    Column("plan_id", Uuid, primary_key=True),
    Column("task_ref", Text, primary_key=True),
    Column("due", Date, primary_key=True),
    Column("level", Text, primary_key=True),  # of the reporting unit; "unknown" until its unit.created
    Column("restated", Boolean, primary_key=True),
    # lead assignments only, as the roll-ups count them
    Column("expected", Integer, nullable=False),
    Column("reported", Integer, nullable=False),
    Column("on_time", Integer, nullable=False),  # first report on or before the due date
    Column("done_on_time", Integer, nullable=False),
    Column("done_late", Integer, nullable=False),
    postgresql_with={"fillfactor": "70"},  # room for HOT updates of the counters (migration 0012)
)

rollup_outputs = Table(
    "rollup_outputs",
    metadata,
    Column("unit", Text, primary_key=True),
    Column("period_start", Date, primary_key=True),
    Column("period_end", Date, primary_key=True),
    Column("plan_id", Uuid, primary_key=True),
    Column("task_ref", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("restated", Boolean, primary_key=True),
    # every role's latest report: how many name the kind (a kind reported as 0 still shows) and their sum
    Column("reports", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    postgresql_with={"fillfactor": "70"},
)

# A unit's periodic report submitted to its parent: each submission is a version; the parent
# accepts it (locked) or returns it with a reason (resubmitted as the next version). Returning an
# accepted version reopens it.
submissions = Table(
    "submissions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("unit_code", Text, nullable=False),
    Column("period", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("parent_code", Text, nullable=False),
    Column("status", Text, nullable=False),  # submitted | accepted | returned | reopened
    Column("number", Text, nullable=False, server_default=""),
    Column("submitted_by", Text, nullable=False, server_default=""),  # the sender's name
    Column("submitted_by_subject", Text, nullable=False, server_default=""),  # its credential: user:… / token:…
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("totals", JSONB, nullable=False),  # the figures as submitted
    Column("decided_by", Text, nullable=False, server_default=""),
    Column("decided_by_subject", Text, nullable=False, server_default=""),
    Column("decided_at", DateTime(timezone=True)),
    Column("reason", Text, nullable=False, server_default=""),
    UniqueConstraint("unit_code", "period", "version", name="submissions_version"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

# The audit trail of every service's writes (audit.recorded), readable by heads, auditors and
# admins of the acting unit or a unit above it. Row-level security keeps it to the caller's subtree.
audit = Table(
    "audit",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("service", Text, nullable=False),
    Column("actor_subject", Text, nullable=False),
    Column("actor_unit", Text, nullable=False),
    Column("actor_name", Text, nullable=False, server_default=""),
    Column("method", Text, nullable=False),
    Column("route", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("params", JSONB, nullable=False),
    Column("body", JSONB),
    Column("before", JSONB),
    Column("address", Text, nullable=False, server_default=""),
    Index("audit_unit_at", "actor_unit", "at"),
)
