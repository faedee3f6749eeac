"""Row-level security follows successions: a unit's people also see the facts of the units it
took over (the 2025 merges), as its roll-ups restated to today's structure count them — the
reports read model's `units.rollup_to` lists, for every unit, the codes its facts count for.
Codes are unique across the directory (bodies carry their commune's code), so the scope's own
code stands for it.

Revision ID: 0010
"""

from shared.migration_ops import SCOPE, guard_by_unit, in_scope, unguard

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
S = "reports"
SCOPE_CODE = f"regexp_replace({SCOPE}, '^.*[.]', '')"
TAKEN_OVER = f"EXISTS (SELECT 1 FROM {S}.units u WHERE u.code = unit_code AND u.rollup_to @> ARRAY[{SCOPE_CODE}])"


def upgrade() -> None:
    unguard(S, "assignments")
    guard_by_unit(S, "assignments", f"({in_scope('unit_path')} OR {TAKEN_OVER})")


def downgrade() -> None:
    unguard(S, "assignments")
    guard_by_unit(S, "assignments", in_scope("unit_path"))
