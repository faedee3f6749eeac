"""Row-level security on the read model keyed by unit: assignments by their unit path, progress
through its assignment (the policy's subquery is itself guarded). Roll-ups of a unit read the
assignments under it, so a caller's own subtree is all it needs. shared.db sets the scope per
transaction; the consumers run with every unit in scope.

Revision ID: 0007
"""

from shared.migration_ops import guard_by_unit, in_scope, unguard

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
S = "reports"


def upgrade() -> None:
    guard_by_unit(S, "assignments", in_scope("unit_path"))
    guard_by_unit(S, "progress", f"EXISTS (SELECT 1 FROM {S}.assignments a WHERE a.id = assignment_id)")


def downgrade() -> None:
    for table in ("progress", "assignments"):
        unguard(S, table)
