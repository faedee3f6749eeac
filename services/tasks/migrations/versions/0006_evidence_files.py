"""Evidence files attached to assignments, with size, type and checksum.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
S = "tasks"


def upgrade() -> None:
    op.create_table(
        "evidence_files",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("assignment_id", sa.Uuid, sa.ForeignKey(f"{S}.assignments.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("uploader", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("assignment_id", "sha256", name="evidence_file_once"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("evidence_files", schema=S)
