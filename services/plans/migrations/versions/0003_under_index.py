"""A GIN index on the codes of each unit's path, so "every plan issued in a unit's subtree"
(`shared.units.under`, the `within` filter of GET /api/plans) is an index scan.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
S = "plans"


def upgrade() -> None:
    op.execute(f"CREATE INDEX units_under ON {S}.units USING gin (string_to_array(path, '.'))")


def downgrade() -> None:
    op.drop_index("units_under", table_name="units", schema=S)
