"""Table definitions every service's first migration shares: the outbox and the inbox."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def create_outbox_and_inbox(schema: str) -> None:
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("family", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("headers", postgresql.JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index(
        "outbox_pending", "outbox", ["seq"], schema=schema, postgresql_where=sa.text("published_at IS NULL")
    )
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )


# The transaction's unit scope (shared.db sets it): a unit path, "*" for every unit, NULL when
# unset or '' — then no row matches (fail closed).
SCOPE = "nullif(current_setting('cchc.scope', true), '')"


def in_scope(path: str) -> str:
    """SQL: the unit path `path` is the scope's unit or lies under it (segment-aware)."""
    return f"({SCOPE} = '*' OR {path} = {SCOPE} OR starts_with({path}, {SCOPE} || '.'))"


def guard_by_unit(schema: str, table: str, condition: str) -> None:
    """Row-level security on a table the API reads by unit: only rows meeting `condition` are
    seen or written, by every role but a superuser — the table's owner too (FORCE)."""
    name = f"{schema}.{table}"
    op.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY unit_scope ON {name} USING ({condition}) WITH CHECK ({condition})")


def unguard(schema: str, table: str) -> None:
    name = f"{schema}.{table}"
    op.execute(f"DROP POLICY IF EXISTS unit_scope ON {name}")
    op.execute(f"ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY")
