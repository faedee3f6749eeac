"""Who sent and who decided each submission, as their credential names them (user or token
id): the names shown stay beside them, but the subject is what the audit trail trusts.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
S = "reports"


def upgrade() -> None:
    op.add_column(
        "submissions", sa.Column("submitted_by_subject", sa.Text, nullable=False, server_default=""), schema=S
    )
    op.add_column("submissions", sa.Column("decided_by_subject", sa.Text, nullable=False, server_default=""), schema=S)


def downgrade() -> None:
    op.drop_column("submissions", "decided_by_subject", schema=S)
    op.drop_column("submissions", "submitted_by_subject", schema=S)
