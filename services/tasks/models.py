"""Tables of the tasks service, in schema `tasks`."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from shared.outbox import inbox_table, outbox_table
from shared.units import path_segments

SCHEMA = "tasks"
metadata = MetaData(schema=SCHEMA)

assignments = Table(
    "assignments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("plan_id", Uuid, nullable=False),
    Column("plan_number", Text, nullable=False),
    Column("task_ref", Text, nullable=False),
    Column("task_title", Text, nullable=False),
    Column("unit_code", Text, nullable=False),
    Column("unit_path", Text, nullable=False),
    Column("unit_name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("period", Text, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("due", Date, nullable=False),
    Column("last_status", Text),
    Column("last_reported_at", DateTime(timezone=True)),
    Column("done_at", DateTime(timezone=True)),
    Column("overdue_emitted_at", DateTime(timezone=True)),
    Column("cancelled_at", DateTime(timezone=True)),  # removed by an amendment before any report
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("plan_id", "task_ref", "unit_code", "period", name="assignment_once"),
    Index("assignments_unit_period", "unit_code", "period"),
    Index("assignments_under", path_segments(text("unit_path")), postgresql_using="gin"),  # units.under()
    Index(
        "assignments_overdue_pending", "due", postgresql_where=text("overdue_emitted_at IS NULL AND done_at IS NULL")
    ),
)

# The version of each plan applied here: plan events may arrive out of order.
plans = Table(
    "plans",
    metadata,
    Column("plan_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("closed_at", DateTime(timezone=True)),
)

# occurrence.due_soon sent, once per (assignment, lead time in days)
reminders = Table(
    "reminders",
    metadata,
    Column("assignment_id", Uuid, ForeignKey("tasks.assignments.id"), primary_key=True),
    Column("lead_days", Integer, primary_key=True),
    Column("sent_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What the system changed on its own (e.g. a merged unit's open assignments moved to its successor)
assignment_audit = Table(
    "assignment_audit",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("assignment_id", Uuid, ForeignKey("tasks.assignments.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("change", JSONB, nullable=False),
    Index("assignment_audit_by_assignment", "assignment_id"),
)

progress_reports = Table(
    "progress_reports",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("assignment_id", Uuid, ForeignKey("tasks.assignments.id"), nullable=False),
    Column("status", Text, nullable=False),
    Column("outputs", JSONB, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("reason", Text, nullable=False, server_default=""),  # why a task cannot be done
    Column("good_model", Text, nullable=False, server_default=""),  # a practice worth spreading
    Column("evidence", JSONB, nullable=False, server_default="[]"),  # links, document numbers
    Column("reporter", JSONB, nullable=False, server_default="{}"),  # unit and person who reported
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Index("progress_by_assignment", "assignment_id", "reported_at"),
)

# Files attached as evidence (minh chứng) of an assignment's progress: scanned reports, photos of
# banners, conference minutes. Kept in the database so that they are backed up, transactional
# and served by any replica; size and type are limited (settings.evidence_*).
evidence_files = Table(
    "evidence_files",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("assignment_id", Uuid, ForeignKey("tasks.assignments.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("uploader", JSONB, nullable=False, server_default="{}"),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("assignment_id", "sha256", name="evidence_file_once"),
)

# Evidence bytes each unit keeps, against settings.evidence_quota_bytes_per_unit (migration 0013).
evidence_usage = Table(
    "evidence_usage",
    metadata,
    Column("unit_code", Text, primary_key=True),
    Column("bytes", BigInteger, nullable=False, server_default="0"),
)

# Periodic reports accepted by the parent (from report.accepted / report.returned): while a
# unit's report for a period is accepted, progress in its subtree for that period is locked.
report_locks = Table(
    "report_locks",
    metadata,
    Column("unit_code", Text, primary_key=True),
    Column("period", Text, primary_key=True),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("version", Integer, nullable=False),
    Column("locked", Boolean, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
)

# Periodic report submissions the tasks service knows of (report.submitted): a decision
# (report.accepted / report.returned) is applied only to a submission known here, by version and id.
report_submissions = Table(
    "report_submissions",
    metadata,
    Column("unit_code", Text, primary_key=True),
    Column("period", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("report_id", Uuid, nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

# code → path of every unit with assignments, kept by triggers on `assignments` (migration
# 0012); not row-level guarded: it names units, not their work.
unit_paths = Table(
    "unit_paths",
    metadata,
    Column("code", Text, primary_key=True),
    Column("path", Text, nullable=False),
)
