"""Evidence bytes each unit keeps (the quota of settings.evidence_quota_bytes_per_unit): one row
per unit, raised in the transaction that stores a file, by an UPDATE that holds the row's lock and
refuses to pass the quota — two uploads at once cannot both fit in the last free bytes. Filled
from the files already stored. Names a unit and a count, not its work: not guarded by row-level
security (as unit_paths).

Revision ID: 0013
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None
S = "tasks"


def upgrade() -> None:
    op.execute(f"CREATE TABLE {S}.evidence_usage (unit_code text PRIMARY KEY, bytes bigint NOT NULL DEFAULT 0)")
    op.execute("SELECT set_config('cchc.scope', '*', true)")  # read every file, as the migration's owner
    op.execute(
        f"INSERT INTO {S}.evidence_usage (unit_code, bytes) SELECT a.unit_code, sum(f.size) "
        f"FROM {S}.evidence_files f JOIN {S}.assignments a ON a.id = f.assignment_id GROUP BY a.unit_code"
    )


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.evidence_usage")
