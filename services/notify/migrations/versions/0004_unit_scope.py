"""Row-level security on in-app notifications, by the unit path of the unit they are for (rows
from before the path was kept have none: only the system scope sees them). shared.db sets the
scope per transaction.

Revision ID: 0004
"""

from shared.migration_ops import guard_by_unit, in_scope, unguard

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
S = "notify"


def upgrade() -> None:
    guard_by_unit(S, "notifications", in_scope("unit_path"))


def downgrade() -> None:
    unguard(S, "notifications")
