"""Wiring of the notify service."""

from __future__ import annotations

from services.notify import api, handlers, models
from shared.clock import Clock
from shared.runtime import Service
from shared.settings import Settings


def create_service(settings: Settings, *, clock: Clock | None = None) -> Service:
    return Service(
        name="notify",
        metadata=models.metadata,
        subscriptions=handlers.subscriptions(settings),
        router=api.router,
        publishes=[],
        settings=settings,
        clock=clock or Clock(),
    )
