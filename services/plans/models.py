"""Tables of the plans service, in schema `plans`."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from shared.outbox import inbox_table, outbox_table
from shared.units import path_segments

SCHEMA = "plans"
metadata = MetaData(schema=SCHEMA)

units = Table(
    "units",
    metadata,
    Column("code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("level", Text, nullable=False),  # province | district | commune | body | village
    Column("parent", Text, ForeignKey("plans.units.code")),
    Column("path", Text, nullable=False),
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("units_parent", "parent"),
    Index("units_under", path_segments(text("path")), postgresql_using="gin"),  # units.under()
)

# Where an ended unit's history rolls up (merges and splits of the 2025 reorganisation).
unit_successors = Table(
    "unit_successors",
    metadata,
    Column("old_code", Text, ForeignKey("plans.units.code"), primary_key=True),
    Column("new_code", Text, ForeignKey("plans.units.code"), primary_key=True),
    Column("is_default", Boolean, nullable=False),
)

plans = Table(
    "plans",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", Text, nullable=False),  # number and symbol, "33/KH-UBND"; '' in drafts
    Column("title", Text, nullable=False),
    Column("issuer", Text, ForeignKey("plans.units.code"), nullable=False),
    Column("period", Text, nullable=False),
    Column("year", Integer, nullable=False, server_default="0"),
    Column("status", Text, nullable=False),  # draft | issued | amended | closed
    Column("issued_on", Date),
    Column("parent_plan_id", Uuid, ForeignKey("plans.plans.id")),
    Column("parent_ref", JSONB),  # the basis as written, when the parent plan is not in the system
    Column("content", JSONB, nullable=False, server_default="{}"),  # purpose, areas, duties, signer …
    Column("version", Integer, nullable=False, server_default="1"),
    Column("implementing_due", Date),  # by when child units must issue their implementing plans
    Column("search", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("issued_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Index("plans_number_once", "issuer", "year", "number", unique=True, postgresql_where=text("number <> ''")),
    Index("plans_parent", "parent_plan_id"),
)

plan_tasks = Table(
    "plan_tasks",
    metadata,
    Column("plan_id", Uuid, ForeignKey("plans.plans.id", ondelete="CASCADE"), primary_key=True),
    Column("ref", Text, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("is_group", Boolean, nullable=False, server_default="false"),
    Column("lead", JSONB, nullable=False),  # unit codes, "children" already expanded
    Column("lead_text", JSONB, nullable=False, server_default="[]"),  # the leads as written
    Column("coordinating", JSONB, nullable=False),
    Column("schedule", JSONB, nullable=False),
    Column("products", JSONB, nullable=False),
    Column("area", Text),
    Column("channels", JSONB, nullable=False, server_default="[]"),
)

plan_versions = Table(
    "plan_versions",
    metadata,
    Column("plan_id", Uuid, ForeignKey("plans.plans.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("snapshot", JSONB, nullable=False),
    Column("changes", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Cascade: a child unit must issue its own implementing plan by `due`.
obligations = Table(
    "obligations",
    metadata,
    Column("plan_id", Uuid, ForeignKey("plans.plans.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_code", Text, ForeignKey("plans.units.code"), primary_key=True),
    Column("due", Date, nullable=False),
    Column("fulfilled_by", Uuid, ForeignKey("plans.plans.id")),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

# Identity: the people of each unit and the machine clients, with their credentials. Secrets
# are kept only as hashes: passwords with argon2, session and API tokens with SHA-256 (they are
# long random strings, so a fast hash is enough and lets a token be found by its hash).
users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("username", Text, nullable=False, unique=True),  # lower-case
    Column("name", Text, nullable=False, server_default=""),
    Column("unit_path", Text, nullable=False),  # "*" for a national account
    Column("roles", ARRAY(Text), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("must_change_password", Boolean, nullable=False, server_default=text("false")),
    Column("created_by", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("disabled_at", DateTime(timezone=True)),
    Column("password_changed_at", DateTime(timezone=True)),
    Index("users_unit", "unit_path"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("user_id", Uuid, ForeignKey("plans.users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("client", Text, nullable=False, server_default=""),
    Index("sessions_user", "user_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("unit_path", Text, nullable=False),
    Column("rights", ARRAY(Text), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("login_failures_username", "username", "at"),
    Index("login_failures_address", "address", "at"),
)
