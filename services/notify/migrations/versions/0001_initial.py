"""Notifications.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from shared.migration_ops import create_outbox_and_inbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
S = "notify"


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("dedup_key", sa.Text, nullable=False, unique=True),
        sa.Column("unit_code", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Uuid, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_index("notifications_unit", "notifications", ["unit_code", "created_at"], schema=S)
    create_outbox_and_inbox(S)


def downgrade() -> None:
    for table in ("inbox", "outbox", "notifications"):
        op.drop_table(table, schema=S)
