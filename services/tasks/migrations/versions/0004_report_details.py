"""Progress report details: the reason a task cannot be done, evidence, who reported.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
S = "tasks"


def upgrade() -> None:
    op.add_column("progress_reports", sa.Column("reason", sa.Text, nullable=False, server_default=""), schema=S)
    op.add_column(
        "progress_reports", sa.Column("evidence", postgresql.JSONB, nullable=False, server_default="[]"), schema=S
    )
    op.add_column(
        "progress_reports", sa.Column("reporter", postgresql.JSONB, nullable=False, server_default="{}"), schema=S
    )


def downgrade() -> None:
    for column in ("reporter", "evidence", "reason"):
        op.drop_column("progress_reports", column, schema=S)
