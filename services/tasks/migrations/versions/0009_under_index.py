"""A GIN index on the codes of each assignment's unit path, so "every assignment under a unit"
(`shared.units.under`, the `within` filter) is an index scan, not a regex over every row.

Revision ID: 0009
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
S = "tasks"


def upgrade() -> None:
    op.execute(f"CREATE INDEX assignments_under ON {S}.assignments USING gin (string_to_array(unit_path, '.'))")


def downgrade() -> None:
    op.drop_index("assignments_under", table_name="assignments", schema=S)
