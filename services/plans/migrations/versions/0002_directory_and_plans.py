"""Successions of units, full plans (basis, content, duties, versions), cascade obligations.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
S = "plans"
JSON = postgresql.JSONB


def upgrade() -> None:
    op.create_table(
        "unit_successors",
        sa.Column("old_code", sa.Text, sa.ForeignKey(f"{S}.units.code"), primary_key=True),
        sa.Column("new_code", sa.Text, sa.ForeignKey(f"{S}.units.code"), primary_key=True),
        sa.Column("is_default", sa.Boolean, nullable=False),
        schema=S,
    )
    for column in (
        sa.Column("issued_on", sa.Date),
        sa.Column("year", sa.Integer, nullable=False, server_default="0"),
        sa.Column("parent_plan_id", sa.Uuid, sa.ForeignKey(f"{S}.plans.id")),
        sa.Column("parent_ref", JSON),
        sa.Column("content", JSON, nullable=False, server_default="{}"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("implementing_due", sa.Date),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("search", sa.Text, nullable=False, server_default=""),
    ):
        op.add_column("plans", column, schema=S)
    op.create_index(
        "plans_number_once",
        "plans",
        ["issuer", "year", "number"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("number <> ''"),
    )
    op.create_index("plans_parent", "plans", ["parent_plan_id"], schema=S)
    for column in (
        sa.Column("is_group", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("area", sa.Text),
        sa.Column("channels", JSON, nullable=False, server_default="[]"),
        sa.Column("lead_text", JSON, nullable=False, server_default="[]"),
    ):
        op.add_column("plan_tasks", column, schema=S)
    op.create_table(
        "plan_versions",
        sa.Column("plan_id", sa.Uuid, sa.ForeignKey(f"{S}.plans.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("snapshot", JSON, nullable=False),
        sa.Column("changes", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "obligations",
        sa.Column("plan_id", sa.Uuid, sa.ForeignKey(f"{S}.plans.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("unit_code", sa.Text, sa.ForeignKey(f"{S}.units.code"), primary_key=True),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("fulfilled_by", sa.Uuid, sa.ForeignKey(f"{S}.plans.id")),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("obligations", schema=S)
    op.drop_table("plan_versions", schema=S)
    for column in ("lead_text", "channels", "area", "is_group"):
        op.drop_column("plan_tasks", column, schema=S)
    op.drop_index("plans_parent", "plans", schema=S)
    op.drop_index("plans_number_once", "plans", schema=S)
    for column in (
        "search",
        "closed_at",
        "implementing_due",
        "version",
        "content",
        "parent_ref",
        "parent_plan_id",
        "year",
        "issued_on",
    ):
        op.drop_column("plans", column, schema=S)
    op.drop_table("unit_successors", schema=S)
