"""The path of every unit tasks has assignments for (code → path), kept by triggers on the
assignments. Not guarded by row-level security — it names units, not their work, as the plans
directory does to every signed-in user — so a request can tell a unit outside the caller's
subtree (403) from a unit with no assignments yet (an empty list).

Revision ID: 0012
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None
S = "tasks"


def upgrade() -> None:
    op.execute(f"CREATE TABLE {S}.unit_paths (code text PRIMARY KEY, path text NOT NULL)")
    op.execute(
        f"""CREATE FUNCTION {S}.note_unit_paths() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {S}.unit_paths (code, path)
            SELECT DISTINCT ON (unit_code) unit_code, unit_path FROM changed WHERE unit_path IS NOT NULL
            ON CONFLICT (code) DO UPDATE SET path = EXCLUDED.path WHERE {S}.unit_paths.path <> EXCLUDED.path;
            RETURN NULL;
        END $$"""
    )
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER assignments_unit_paths_{event.lower()} AFTER {event} ON {S}.assignments "
            f"REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {S}.note_unit_paths()"
        )
    # the assignments are guarded: read them all, as the migration's owner, to fill the table
    op.execute("SELECT set_config('cchc.scope', '*', true)")
    op.execute(
        f"INSERT INTO {S}.unit_paths (code, path) SELECT DISTINCT ON (unit_code) unit_code, unit_path "
        f"FROM {S}.assignments WHERE unit_path IS NOT NULL ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS assignments_unit_paths_{event} ON {S}.assignments")
    op.execute(f"DROP FUNCTION IF EXISTS {S}.note_unit_paths()")
    op.execute(f"DROP TABLE {S}.unit_paths")
