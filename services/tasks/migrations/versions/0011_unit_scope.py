"""Row-level security on what the API reads by unit: assignments by their unit path, progress
reports and evidence files through their assignment (the policy's subquery is itself guarded).
The second guard behind the routes' checks: a query that forgets its WHERE still sees only the
caller's subtree (shared.db sets the scope per transaction).

Revision ID: 0011
"""

from shared.migration_ops import guard_by_unit, in_scope, unguard

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None
S = "tasks"
THROUGH_ASSIGNMENT = f"EXISTS (SELECT 1 FROM {S}.assignments a WHERE a.id = assignment_id)"


def upgrade() -> None:
    guard_by_unit(S, "assignments", in_scope("unit_path"))
    guard_by_unit(S, "progress_reports", THROUGH_ASSIGNMENT)
    guard_by_unit(S, "evidence_files", THROUGH_ASSIGNMENT)


def downgrade() -> None:
    for table in ("evidence_files", "progress_reports", "assignments"):
        unguard(S, table)
