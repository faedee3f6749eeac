"""Contacts, deliveries over email and webhooks, and their attempts.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
S = "notify"


def upgrade() -> None:
    op.add_column("notifications", sa.Column("unit_path", sa.Text), schema=S)
    op.add_column("notifications", sa.Column("event_id", sa.Uuid), schema=S)
    op.create_table(
        "contacts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("unit_code", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text),
        sa.Column("webhook_url", sa.Text),
        sa.Column("webhook_secret", sa.Text),
        sa.Column("channels", postgresql.JSONB, nullable=False),
        sa.Column("quiet_start", sa.Time),
        sa.Column("quiet_end", sa.Time),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index("contacts_unit", "contacts", ["unit_code"], schema=S)
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("notification_id", sa.Uuid, sa.ForeignKey(f"{S}.notifications.id"), nullable=False),
        sa.Column("contact_id", sa.Uuid, sa.ForeignKey(f"{S}.contacts.id"), nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index(
        "deliveries_due", "deliveries", ["next_attempt_at"], schema=S, postgresql_where=sa.text("status = 'pending'")
    )
    op.create_index("deliveries_notification", "deliveries", ["notification_id"], schema=S)
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("delivery_id", sa.Uuid, sa.ForeignKey(f"{S}.deliveries.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        schema=S,
    )
    op.create_index("delivery_attempts_delivery", "delivery_attempts", ["delivery_id"], schema=S)


def downgrade() -> None:
    for table in ("delivery_attempts", "deliveries", "contacts"):
        op.drop_table(table, schema=S)
    op.drop_column("notifications", "event_id", schema=S)
    op.drop_column("notifications", "unit_path", schema=S)
