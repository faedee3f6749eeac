"""Database engines and sessions: asyncpg under SQLAlchemy, one schema per service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

T = TypeVar("T")


def async_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+asyncpg:// and use asyncpg."""
    for scheme in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+asyncpg://" + url[len(scheme) :]
    raise ValueError(f"CCHC_DATABASE_URL phải là URL PostgreSQL (postgresql://…): {url!r}")


def plain_url(url: str) -> str:
    """The libpq form (postgresql://…) for asyncpg.connect and other tools."""
    return "postgresql://" + async_url(url)[len("postgresql+asyncpg://") :]


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(async_url(url), pool_size=pool_size, max_overflow=10, pool_pre_ping=True)


def make_sessions(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)


def chunks(rows: list[T], size: int = 1000) -> Iterator[list[T]]:
    """Slices for multi-row statements: asyncpg takes at most 32,767 parameters per statement."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
