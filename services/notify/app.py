"""Wiring of the notify service."""

from __future__ import annotations

from services.notify import api, handlers, models
from services.notify.delivery import delivery_job
from services.notify.jobs import digest_job, escalation_job
from services.notify.rendering import Templates
from shared.clock import Clock
from shared.runtime import Service
from shared.settings import Settings


def create_service(settings: Settings, *, clock: Clock | None = None) -> Service:
    templates = Templates(settings.templates_dir)  # a template that cannot work stops the start
    return Service(
        name="notify",
        metadata=models.metadata,
        subscriptions=handlers.subscriptions(settings, templates),
        router=api.router,
        publishes=["notification.failed"],
        settings=settings,
        clock=clock or Clock(),
        periodic=[escalation_job(templates), digest_job(templates), delivery_job(templates)],
        # a sweep's reminders and a national plan's assignments come by the thousand: one
        # transaction per fetched batch (handlers.py says which events have a set-based path)
        batched=True,
    )
