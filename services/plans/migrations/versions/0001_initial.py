"""Units, plans and plan tasks.

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
S = "plans"


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("parent", sa.Text, sa.ForeignKey(f"{S}.units.code")),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("valid_from", sa.Date),
        sa.Column("valid_to", sa.Date),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index("units_parent", "units", ["parent"], schema=S)
    op.create_table(
        "plans",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("number", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("issuer", sa.Text, sa.ForeignKey(f"{S}.units.code"), nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("issued_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_table(
        "plan_tasks",
        sa.Column("plan_id", sa.Uuid, sa.ForeignKey(f"{S}.plans.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("ref", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("lead", postgresql.JSONB, nullable=False),
        sa.Column("coordinating", postgresql.JSONB, nullable=False),
        sa.Column("schedule", postgresql.JSONB, nullable=False),
        sa.Column("products", postgresql.JSONB, nullable=False),
        schema=S,
    )
    create_outbox_and_inbox(S)


def downgrade() -> None:
    for table in ("inbox", "outbox", "plan_tasks", "plans", "units"):
        op.drop_table(table, schema=S)
