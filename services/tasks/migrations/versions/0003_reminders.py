"""Due-soon reminders sent, once per (assignment, lead time).

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
S = "tasks"


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("assignment_id", sa.Uuid, sa.ForeignKey(f"{S}.assignments.id"), primary_key=True),
        sa.Column("lead_days", sa.Integer, primary_key=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("reminders", schema=S)
