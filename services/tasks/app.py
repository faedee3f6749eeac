"""Wiring of the tasks service."""

from __future__ import annotations

from services.tasks import api, handlers, models
from services.tasks.sweeps import sweep_due_soon, sweep_overdue
from shared.clock import Clock
from shared.runtime import Service
from shared.settings import Settings


def create_service(settings: Settings, *, clock: Clock | None = None) -> Service:
    return Service(
        name="tasks",
        metadata=models.metadata,
        subscriptions=handlers.subscriptions(settings),
        router=api.router,
        publishes=[
            "assignment.created",
            "assignment.updated",
            "assignment.cancelled",
            "progress.reported",
            "progress.corrected",
            "occurrence.due_soon",
            "occurrence.overdue",
        ],
        settings=settings,
        clock=clock or Clock(),
        periodic=[sweep_overdue, sweep_due_soon],
    )
