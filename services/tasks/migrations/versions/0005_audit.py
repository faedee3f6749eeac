"""Audit of changes made to assignments on the system's own initiative (moves to a successor unit).

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
S = "tasks"


def upgrade() -> None:
    op.create_table(
        "assignment_audit",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("assignment_id", sa.Uuid, sa.ForeignKey(f"{S}.assignments.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("change", postgresql.JSONB, nullable=False),
        schema=S,
    )
    op.create_index("assignment_audit_by_assignment", "assignment_audit", ["assignment_id"], schema=S)


def downgrade() -> None:
    op.drop_table("assignment_audit", schema=S)
