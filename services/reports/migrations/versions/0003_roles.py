"""Assignment roles (only leads count for completeness) and the time of the state applied
(created, updated and cancelled events may arrive in any order).

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
S = "reports"


def upgrade() -> None:
    op.add_column("assignments", sa.Column("role", sa.Text, nullable=False, server_default="lead"), schema=S)
    op.add_column("assignments", sa.Column("state_at", sa.DateTime(timezone=True)), schema=S)


def downgrade() -> None:
    op.drop_column("assignments", "state_at", schema=S)
    op.drop_column("assignments", "role", schema=S)
