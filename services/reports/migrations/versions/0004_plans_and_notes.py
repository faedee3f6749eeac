"""Plans and their tasks (content area, channels, targets), task titles on assignments, notes
and good models on progress.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
S = "reports"


def upgrade() -> None:
    op.add_column("assignments", sa.Column("task_title", sa.Text, nullable=False, server_default=""), schema=S)
    op.add_column("assignments", sa.Column("plan_number", sa.Text, nullable=False, server_default=""), schema=S)
    for column in ("note", "reason", "good_model"):
        op.add_column("progress", sa.Column(column, sa.Text, nullable=False, server_default=""), schema=S)
    op.add_column("progress", sa.Column("done_at", sa.DateTime(timezone=True)), schema=S)
    op.execute(f"UPDATE {S}.progress SET done_at = first_reported_at WHERE status = 'done'")  # best known
    op.create_table(
        "plans",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("number", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("issuer_code", sa.Text, nullable=False),
        sa.Column("issuer_name", sa.Text, nullable=False, server_default=""),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("closed", sa.Boolean, nullable=False, server_default="false"),
        schema=S,
    )
    op.create_table(
        "plan_tasks",
        sa.Column("plan_id", sa.Uuid, primary_key=True),
        sa.Column("ref", sa.Text, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("area", sa.Text),
        sa.Column("channels", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("targets", postgresql.JSONB, nullable=False, server_default="{}"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("plan_tasks", schema=S)
    op.drop_table("plans", schema=S)
    for column in ("done_at", "good_model", "reason", "note"):
        op.drop_column("progress", column, schema=S)
    op.drop_column("assignments", "plan_number", schema=S)
    op.drop_column("assignments", "task_title", schema=S)
