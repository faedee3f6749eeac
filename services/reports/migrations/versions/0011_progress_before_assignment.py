"""A progress report may reach the read model before the assignment it is about: the streams
promise no order between event types, and a rebuild replays them side by side. Until now the
policy on `progress` (visible and writable only through a known assignment) refused such a row
even to the consumers, so the report was retried and then dead-lettered. The consumers' scope is
every unit ("*"): they may now write and read it. A caller with a unit scope still sees a report
only through an assignment in that scope, and every query reaches progress through assignments.

Revision ID: 0011
"""

from shared.migration_ops import SCOPE, guard_by_unit, unguard

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None
S = "reports"
THROUGH_ASSIGNMENT = f"EXISTS (SELECT 1 FROM {S}.assignments a WHERE a.id = assignment_id)"


def upgrade() -> None:
    unguard(S, "progress")
    guard_by_unit(S, "progress", f"({SCOPE} = '*' OR {THROUGH_ASSIGNMENT})")


def downgrade() -> None:
    unguard(S, "progress")
    guard_by_unit(S, "progress", THROUGH_ASSIGNMENT)
