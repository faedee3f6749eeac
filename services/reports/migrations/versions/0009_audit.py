"""The audit trail of writes (audit.recorded from every service), guarded by the acting unit.

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.migration_ops import guard_by_unit, in_scope, unguard

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
S = "reports"
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("actor_subject", sa.Text, nullable=False),
        sa.Column("actor_unit", sa.Text, nullable=False),
        sa.Column("actor_name", sa.Text, nullable=False, server_default=""),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("params", JSONB, nullable=False),
        sa.Column("body", JSONB),
        sa.Column("before", JSONB),
        sa.Column("address", sa.Text, nullable=False, server_default=""),
        schema=S,
    )
    op.create_index("audit_unit_at", "audit", ["actor_unit", "at"], schema=S)
    guard_by_unit(S, "audit", in_scope("actor_unit"))


def downgrade() -> None:
    unguard(S, "audit")
    op.drop_table("audit", schema=S)
