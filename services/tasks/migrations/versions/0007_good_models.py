"""Good models (practices worth spreading) on progress reports.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
S = "tasks"


def upgrade() -> None:
    op.add_column("progress_reports", sa.Column("good_model", sa.Text, nullable=False, server_default=""), schema=S)


def downgrade() -> None:
    op.drop_column("progress_reports", "good_model", schema=S)
