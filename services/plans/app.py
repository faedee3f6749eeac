"""Wiring of the plans service."""

from __future__ import annotations

from services.plans import api, handlers, models
from shared.clock import Clock
from shared.runtime import Service
from shared.settings import Settings


def create_service(settings: Settings, *, clock: Clock | None = None) -> Service:
    return Service(
        name="plans",
        metadata=models.metadata,
        subscriptions=handlers.SUBSCRIPTIONS,
        router=api.router,
        publishes=["unit.created", "plan.drafted", "plan.issued"],
        settings=settings,
        clock=clock or Clock(),
    )
