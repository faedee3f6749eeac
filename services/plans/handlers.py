"""Event subscribers of the plans service: none — plans is the source of units and plans."""

from __future__ import annotations

from shared.bus import Subscription
from shared.settings import Settings


def subscriptions(settings: Settings) -> list[Subscription]:
    return []
