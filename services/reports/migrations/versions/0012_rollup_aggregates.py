"""Maintained aggregates of the roll-ups (issue 18): counters per unit × period × task × due date
(`rollup_counts`) and product sums per unit × period × task × kind (`rollup_outputs`), which the
reports handlers keep in the transaction that changes the facts (services/reports/aggregates.py).
Filled here from the facts already held, as aggregates.recount() would fill them at this revision.
Row-level security: a row is seen by a caller whose scope holds the unit it counts for; the
nation's rows ("VN", in no unit's path) only by the national scope. The units under the scope are
listed once per statement (a hashed subplan), not looked up per row.

Revision ID: 0012
"""

import sqlalchemy as sa
from alembic import op

from shared.migration_ops import SCOPE, guard_by_unit, in_scope, unguard

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None
S = "reports"
# Room on every page: a counter's update then stays on its page without touching the key's index
# (a HOT update); the hot rows (a province's, the nation's) change with every batch.
ROOM = {"fillfactor": "70"}
IN_SCOPE = f"({SCOPE} = '*' OR unit IN (SELECT u.code FROM {S}.units u WHERE {in_scope('u.path')}))"

FACTS = f"""
WITH facts AS (
    SELECT a.plan_id, a.task_ref, a.ancestors, a.period_start, a.period_end, a.due, a.role,
           coalesce(u.level, 'unknown') AS level, coalesce(u.rollup_to, '{{}}') AS rollup_to,
           p.assignment_id IS NOT NULL AS reported, p.first_reported_at, p.done_at, p.outputs
    FROM {S}.assignments a
    LEFT JOIN {S}.progress p ON p.assignment_id = a.id
    LEFT JOIN {S}.units u ON u.code = a.unit_code
    WHERE NOT a.cancelled
), counted AS (
    SELECT f.*, t.unit, false AS restated FROM facts f CROSS JOIN LATERAL unnest(f.ancestors || 'VN'::text) AS t(unit)
    UNION ALL
    SELECT f.*, t.unit, true FROM facts f CROSS JOIN LATERAL unnest(f.rollup_to) AS t(unit)
    WHERE NOT t.unit = ANY(f.ancestors)
)
"""
VN_DAY = "date(timezone('Asia/Ho_Chi_Minh', {}))"
RECOUNT = [
    FACTS
    + f"""
INSERT INTO {S}.rollup_counts (unit, period_start, period_end, plan_id, task_ref, due, level, restated,
                               expected, reported, on_time, done_on_time, done_late)
SELECT unit, period_start, period_end, plan_id, task_ref, due, level, restated, count(*),
       count(*) FILTER (WHERE reported),
       count(*) FILTER (WHERE {VN_DAY.format("first_reported_at")} <= due),
       count(*) FILTER (WHERE {VN_DAY.format("done_at")} <= due),
       count(*) FILTER (WHERE {VN_DAY.format("done_at")} > due)
FROM counted WHERE role = 'lead'
GROUP BY unit, period_start, period_end, plan_id, task_ref, due, level, restated
""",
    FACTS
    + f"""
INSERT INTO {S}.rollup_outputs (unit, period_start, period_end, plan_id, task_ref, kind, restated, reports, amount)
SELECT unit, period_start, period_end, plan_id, task_ref, kv.key, restated, count(*), sum(kv.value::numeric)
FROM counted CROSS JOIN LATERAL jsonb_each_text(outputs) AS kv
WHERE reported
GROUP BY unit, period_start, period_end, plan_id, task_ref, kv.key, restated
""",
]


def _key() -> list[sa.Column]:
    return [
        sa.Column("unit", sa.Text, primary_key=True),
        sa.Column("period_start", sa.Date, primary_key=True),
        sa.Column("period_end", sa.Date, primary_key=True),
        sa.Column("plan_id", sa.Uuid, primary_key=True),
        sa.Column("task_ref", sa.Text, primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "rollup_counts",
        *_key(),
        sa.Column("due", sa.Date, primary_key=True),
        sa.Column("level", sa.Text, primary_key=True),
        sa.Column("restated", sa.Boolean, primary_key=True),
        *(
            sa.Column(name, sa.Integer, nullable=False)
            for name in ("expected", "reported", "on_time", "done_on_time", "done_late")
        ),
        schema=S,
        postgresql_with=ROOM,
    )
    op.create_table(
        "rollup_outputs",
        *_key(),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("restated", sa.Boolean, primary_key=True),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        schema=S,
        postgresql_with=ROOM,
    )
    for statement in RECOUNT:
        op.execute(statement)
    for table in ("rollup_counts", "rollup_outputs"):
        guard_by_unit(S, table, IN_SCOPE)


def downgrade() -> None:
    for table in ("rollup_outputs", "rollup_counts"):
        unguard(S, table)
        op.drop_table(table, schema=S)
