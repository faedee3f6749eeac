"""A B-tree index on the reporting unit of assignments: the current view's subtree is a list of
unit codes (`unit_code = ANY(ARRAY(…))`), which this index answers with a bitmap scan beside
the GIN index on the ancestors, instead of reading every assignment in the country.

Revision ID: 0006
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
S = "reports"


def upgrade() -> None:
    op.create_index("report_assignments_unit", "assignments", ["unit_code"], schema=S)


def downgrade() -> None:
    op.drop_index("report_assignments_unit", table_name="assignments", schema=S)
