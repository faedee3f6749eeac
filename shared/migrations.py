"""Alembic, one migration folder and one schema per service; the version table lives in the
service's own schema so services migrate independently."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from shared.db import make_engine

SERVICES = ("plans", "tasks", "notify", "reports")
ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, database_url: str, *, role: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    config.attributes["database_url"] = database_url
    config.attributes["role"] = role
    return config


def upgrade(service: str, database_url: str, *, role: str | None = None) -> None:
    """Apply the service's migrations (sync; call from a thread when a loop is running), as
    `role` (the schema's owner, see shared.db_roles) when given, so that it owns what they make."""
    command.upgrade(alembic_config(service, database_url, role=role), "head")


def upgrade_all(database_url: str) -> None:
    for service in SERVICES:
        upgrade(service, database_url)


def run_env(metadata: MetaData, schema: str) -> None:
    """Body of every service's migrations/env.py."""
    from alembic import context

    url = context.config.attributes["database_url"]
    role = context.config.attributes.get("role")

    def migrate(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        if role:  # the schema's owner makes (so owns) what the migrations create
            connection.execute(text(f'SET LOCAL ROLE "{role}"'))
        # a data migration is system work: it sees every unit's rows (row-level security)
        connection.execute(text("SELECT set_config('cchc.scope', '*', true)"))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, _: type_ != "schema" or name == schema,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = make_engine(url, pool_size=1)
        async with engine.begin() as connection:
            await connection.run_sync(migrate)
        await engine.dispose()

    asyncio.run(run())
