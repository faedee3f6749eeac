"""Tables of the notify service, in schema `notify`."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, MetaData, Table, Text, Uuid, func

from shared.outbox import inbox_table, outbox_table

SCHEMA = "notify"
metadata = MetaData(schema=SCHEMA)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Uuid, primary_key=True),
    # (rule, occurrence, recipient): one notification, whatever the redeliveries or replicas
    Column("dedup_key", Text, nullable=False, unique=True),
    Column("unit_code", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True)),
    Index("notifications_unit", "unit_code", "created_at"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
