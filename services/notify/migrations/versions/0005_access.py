"""Who may act on what, in notify: the units notify has heard of (code → path, from the events
it turned into notifications — the API places a unit code named in a request with it), the unit
path a contact or a rule belongs to, and who added a contact, set a rule or read a notification.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
S = "notify"


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        schema=S,
    )
    # what the stored notifications and escalations already say (run by the owner, which RLS
    # confines too: the scope is set to every unit for this statement's transaction)
    op.execute("SELECT set_config('cchc.scope', '*', true)")
    op.execute(
        f"""INSERT INTO {S}.units (code, path)
            SELECT DISTINCT ON (unit_code) unit_code, unit_path FROM {S}.notifications
            WHERE unit_path IS NOT NULL ORDER BY unit_code, created_at DESC
            ON CONFLICT DO NOTHING"""
    )
    op.execute(
        f"""INSERT INTO {S}.units (code, path)
            SELECT DISTINCT ON (unit_code) unit_code, unit_path FROM {S}.escalations
            ORDER BY unit_code, created_at DESC
            ON CONFLICT DO NOTHING"""
    )
    op.add_column("contacts", sa.Column("unit_path", sa.Text), schema=S)
    op.add_column("contacts", sa.Column("created_by", sa.Text, nullable=False, server_default=""), schema=S)
    op.execute(f"UPDATE {S}.contacts c SET unit_path = u.path FROM {S}.units u WHERE u.code = c.unit_code")
    op.add_column("rules", sa.Column("owner_path", sa.Text), schema=S)
    op.add_column("rules", sa.Column("updated_by", sa.Text, nullable=False, server_default=""), schema=S)
    op.execute(f"UPDATE {S}.rules r SET owner_path = u.path FROM {S}.units u WHERE r.scope = 'unit' AND u.code = r.key")
    op.add_column("notifications", sa.Column("read_by", sa.Text), schema=S)


def downgrade() -> None:
    op.drop_column("notifications", "read_by", schema=S)
    for column in ("updated_by", "owner_path"):
        op.drop_column("rules", column, schema=S)
    for column in ("created_by", "unit_path"):
        op.drop_column("contacts", column, schema=S)
    op.drop_table("units", schema=S)
