"""Rules per plan or unit, escalations to the supervising unit (and what settles them), daily digests.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
S = "notify"


def upgrade() -> None:
    op.add_column("notifications", sa.Column("plan_id", sa.Uuid), schema=S)
    op.add_column(
        "notifications", sa.Column("context", postgresql.JSONB, nullable=False, server_default="{}"), schema=S
    )
    op.add_column(
        "notifications",
        sa.Column("in_digest", sa.Boolean, nullable=False, server_default=sa.text("false")),
        schema=S,
    )
    op.add_column("notifications", sa.Column("digest_id", sa.Uuid), schema=S)
    op.create_index(
        "notifications_digest_pending",
        "notifications",
        ["unit_code"],
        schema=S,
        postgresql_where=sa.text("in_digest AND digest_id IS NULL"),
    )
    op.create_table(
        "rules",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("settings", postgresql.JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "escalations",
        sa.Column("assignment_id", sa.Uuid, primary_key=True),
        sa.Column("due", sa.Date, primary_key=True),
        sa.Column("unit_code", sa.Text, nullable=False),
        sa.Column("unit_path", sa.Text, nullable=False),
        sa.Column("parent_code", sa.Text, nullable=False),
        sa.Column("parent_path", sa.Text, nullable=False),
        sa.Column("plan_id", sa.Uuid, nullable=False),
        sa.Column("context", postgresql.JSONB, nullable=False),
        sa.Column("escalate_on", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("resolution", sa.Text, nullable=False, server_default=""),
        sa.Column("notification_id", sa.Uuid),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index(
        "escalations_pending", "escalations", ["escalate_on"], schema=S, postgresql_where=sa.text("status = 'pending'")
    )
    op.create_table(
        "settled",
        sa.Column("assignment_id", sa.Uuid, primary_key=True),
        sa.Column("due", sa.Date, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("settled", schema=S)
    op.drop_table("escalations", schema=S)
    op.drop_table("rules", schema=S)
    op.drop_index("notifications_digest_pending", "notifications", schema=S)
    for column in ("digest_id", "in_digest", "context", "plan_id"):
        op.drop_column("notifications", column, schema=S)
