"""Successions for roll-ups restated to the current structure; cancelled assignments.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
S = "reports"


def upgrade() -> None:
    op.create_table(
        "successors",
        sa.Column("old_code", sa.Text, primary_key=True),
        sa.Column("new_code", sa.Text, primary_key=True),
        sa.Column("is_default", sa.Boolean, nullable=False),
        schema=S,
    )
    op.add_column(
        "units", sa.Column("rollup_to", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"), schema=S
    )
    op.add_column("units", sa.Column("named_at", sa.DateTime(timezone=True)), schema=S)
    op.create_index("report_units_rollup_to", "units", ["rollup_to"], schema=S, postgresql_using="gin")
    op.add_column("assignments", sa.Column("cancelled", sa.Boolean, nullable=False, server_default="false"), schema=S)


def downgrade() -> None:
    op.drop_column("assignments", "cancelled", schema=S)
    op.drop_index("report_units_rollup_to", "units", schema=S)
    op.drop_column("units", "rollup_to", schema=S)
    op.drop_column("units", "named_at", schema=S)
    op.drop_table("successors", schema=S)
