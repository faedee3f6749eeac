"""Tables of the plans service, in schema `plans`."""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, MetaData, Table, Text, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB

from shared.outbox import inbox_table, outbox_table

SCHEMA = "plans"
metadata = MetaData(schema=SCHEMA)

units = Table(
    "units",
    metadata,
    Column("code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("parent", Text, ForeignKey("plans.units.code")),
    Column("path", Text, nullable=False),
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("units_parent", "parent"),
)

plans = Table(
    "plans",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("issuer", Text, ForeignKey("plans.units.code"), nullable=False),
    Column("period", Text, nullable=False),
    Column("status", Text, nullable=False),  # draft | issued
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("issued_at", DateTime(timezone=True)),
)

plan_tasks = Table(
    "plan_tasks",
    metadata,
    Column("plan_id", Uuid, ForeignKey("plans.plans.id", ondelete="CASCADE"), primary_key=True),
    Column("ref", Text, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("lead", JSONB, nullable=False),  # unit codes, "children" already expanded
    Column("coordinating", JSONB, nullable=False),
    Column("schedule", JSONB, nullable=False),
    Column("products", JSONB, nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
