"""Plan versions seen by tasks (amendments applied in order), cancelled assignments.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
S = "tasks"


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("plan_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.add_column("assignments", sa.Column("cancelled_at", sa.DateTime(timezone=True)), schema=S)


def downgrade() -> None:
    op.drop_column("assignments", "cancelled_at", schema=S)
    op.drop_table("plans", schema=S)
