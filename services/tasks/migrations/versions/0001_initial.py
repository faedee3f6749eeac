"""Assignments and progress reports.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migration_ops import create_outbox_and_inbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
S = "tasks"


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("plan_id", sa.Uuid, nullable=False),
        sa.Column("plan_number", sa.Text, nullable=False),
        sa.Column("task_ref", sa.Text, nullable=False),
        sa.Column("task_title", sa.Text, nullable=False),
        sa.Column("unit_code", sa.Text, nullable=False),
        sa.Column("unit_path", sa.Text, nullable=False),
        sa.Column("unit_name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("last_status", sa.Text),
        sa.Column("last_reported_at", sa.DateTime(timezone=True)),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("overdue_emitted_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("plan_id", "task_ref", "unit_code", "period", name="assignment_once"),
        schema=S,
    )
    op.create_index("assignments_unit_period", "assignments", ["unit_code", "period"], schema=S)
    op.create_index(
        "assignments_overdue_pending",
        "assignments",
        ["due"],
        schema=S,
        postgresql_where=sa.text("overdue_emitted_at IS NULL AND done_at IS NULL"),
    )
    op.create_table(
        "progress_reports",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("assignment_id", sa.Uuid, sa.ForeignKey(f"{S}.assignments.id"), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("outputs", postgresql.JSONB, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("progress_by_assignment", "progress_reports", ["assignment_id", "reported_at"], schema=S)
    create_outbox_and_inbox(S)


def downgrade() -> None:
    for table in ("inbox", "outbox", "progress_reports", "assignments"):
        op.drop_table(table, schema=S)
