"""Submissions of periodic reports up the unit tree.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
S = "reports"


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("unit_code", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("parent_code", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("number", sa.Text, nullable=False, server_default=""),
        sa.Column("submitted_by", sa.Text, nullable=False, server_default=""),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("totals", postgresql.JSONB, nullable=False),
        sa.Column("decided_by", sa.Text, nullable=False, server_default=""),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.UniqueConstraint("unit_code", "period", "version", name="submissions_version"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("submissions", schema=S)
