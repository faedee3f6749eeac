"""Wiring of the tasks service."""

from __future__ import annotations

from services.tasks import api, handlers, models
from services.tasks.sweeps import sweep_overdue
from shared.clock import Clock
from shared.runtime import Service
from shared.settings import Settings


def create_service(settings: Settings, *, clock: Clock | None = None) -> Service:
    return Service(
        name="tasks",
        metadata=models.metadata,
        subscriptions=handlers.SUBSCRIPTIONS,
        router=api.router,
        publishes=["assignment.created", "assignment.cancelled", "progress.reported", "occurrence.overdue"],
        settings=settings,
        clock=clock or Clock(),
        periodic=[sweep_overdue],
    )
