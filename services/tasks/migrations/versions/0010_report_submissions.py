"""Submissions of periodic reports, as report.submitted tells them: a decision on a report must
name one of them.

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
S = "tasks"


def upgrade() -> None:
    op.create_table(
        "report_submissions",
        sa.Column("unit_code", sa.Text, primary_key=True),
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("report_id", sa.Uuid, nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("report_submissions", schema=S)
