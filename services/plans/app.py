"""Wiring of the plans service."""

from __future__ import annotations

from fastapi import APIRouter

from services.plans import api, directory_api, handlers, identity_api, import_api, models
from shared.clock import Clock
from shared.runtime import Service
from shared.settings import Settings


def create_service(settings: Settings, *, clock: Clock | None = None) -> Service:
    return Service(
        name="plans",
        metadata=models.metadata,
        subscriptions=handlers.subscriptions(settings),
        router=_router(),
        publishes=[
            "unit.created",
            "unit.renamed",
            "unit.succeeded",
            "plan.drafted",
            "plan.issued",
            "plan.amended",
            "plan.closed",
        ],
        settings=settings,
        clock=clock or Clock(),
    )


def _router() -> APIRouter:
    router = APIRouter()
    router.include_router(identity_api.router)
    router.include_router(directory_api.router)
    router.include_router(import_api.router)
    router.include_router(api.router)
    return router
