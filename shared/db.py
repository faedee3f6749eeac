"""Database engines and sessions: asyncpg under SQLAlchemy, one schema per service.

Every transaction a session begins carries the caller's unit scope (`cchc.scope`, local to the
transaction) for the row-level security policies: the request's subtree from
`shared.auth.current_scope`, "*" inside `system_scope()` (event consumers, sweeps), and an empty
scope — no rows of the guarded tables — when nothing set one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction

from shared.auth import current_scope

T = TypeVar("T")
EVERY_UNIT = "*"


def async_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+asyncpg:// and use asyncpg."""
    for scheme in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+asyncpg://" + url[len(scheme) :]
    raise ValueError("CCHC_DATABASE_URL phải là URL PostgreSQL (postgresql://…)")


def plain_url(url: str) -> str:
    """The libpq form (postgresql://…) for asyncpg.connect and other tools."""
    return "postgresql://" + async_url(url)[len("postgresql+asyncpg://") :]


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    # hide_parameters: bound values (progress notes, contact addresses, tokens' hashes) stay out
    # of error messages and logs.
    return create_async_engine(
        async_url(url), pool_size=pool_size, max_overflow=10, pool_pre_ping=True, hide_parameters=True
    )


class ScopedSession(Session):
    """A session whose every transaction starts by setting `cchc.scope` for row-level security."""


@event.listens_for(ScopedSession, "after_begin")
def _set_scope(_: Session, __: SessionTransaction, connection: Connection) -> None:
    # Local to the transaction (set_config(..., true)): it ends with it and never reaches the
    # next user of the pooled connection. '' reads as unset: no rows.
    connection.execute(text("SELECT set_config('cchc.scope', :scope, true)"), {"scope": current_scope.get() or ""})


def make_sessions(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=ScopedSession)


@contextlib.contextmanager
def system_scope() -> Iterator[None]:
    """Run the block with every unit in scope: for work that spans units by its nature (event
    consumers building the read models, sweeps, the delivery worker), never for a request."""
    token = current_scope.set(EVERY_UNIT)
    try:
        yield
    finally:
        current_scope.reset(token)


def scoped(scope: str | None) -> contextlib.AbstractContextManager[Any]:
    """Run the block with this scope (a unit path, "*" or None for none): tests and tools."""

    @contextlib.contextmanager
    def block() -> Iterator[None]:
        token = current_scope.set(scope)
        try:
            yield
        finally:
            current_scope.reset(token)

    return block()


def chunks(rows: list[T], size: int = 1000) -> Iterator[list[T]]:
    """Slices for multi-row statements: asyncpg takes at most 32,767 parameters per statement."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
