"""Wiring of the reports service."""

from __future__ import annotations

from services.reports import api, handlers, models
from shared.clock import Clock
from shared.runtime import Service
from shared.settings import Settings


def create_service(settings: Settings, *, clock: Clock | None = None) -> Service:
    return Service(
        name="reports",
        metadata=models.metadata,
        subscriptions=handlers.subscriptions(settings),
        router=api.router,
        publishes=["report.submitted", "report.accepted", "report.returned"],
        settings=settings,
        clock=clock or Clock(),
        batched=True,  # the read model is the hot consumer: one transaction per fetched batch
    )
