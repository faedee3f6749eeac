"""Read models: units, assignments, latest progress.

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
S = "reports"


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("parent", sa.Text),
        sa.Column("path", sa.Text, nullable=False),
        schema=S,
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("plan_id", sa.Uuid, nullable=False),
        sa.Column("task_ref", sa.Text, nullable=False),
        sa.Column("unit_code", sa.Text, nullable=False),
        sa.Column("unit_path", sa.Text, nullable=False),
        sa.Column("ancestors", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        schema=S,
    )
    op.create_index("report_assignments_ancestors", "assignments", ["ancestors"], schema=S, postgresql_using="gin")
    op.create_table(
        "progress",
        sa.Column("assignment_id", sa.Uuid, primary_key=True),
        sa.Column("report_id", sa.Uuid, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("outputs", postgresql.JSONB, nullable=False),
        sa.Column("first_reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_reported_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    create_outbox_and_inbox(S)


def downgrade() -> None:
    for table in ("inbox", "outbox", "progress", "assignments", "units"):
        op.drop_table(table, schema=S)
