"""Event size limits: per family, capped by the nats-server's max_payload; the streams carry them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from nats.js.api import DiscardPolicy

from shared.bus import stream_configs
from shared.events import DEAD_LETTER, FAMILIES, UnitRenamed, make_event, stream_name
from shared.outbox import HEADERS_ROOM, EventLimits, EventTooLarge, outbox_row
from shared.settings import Settings

pytestmark = pytest.mark.unit


def test_a_familys_limit_is_its_setting_capped_by_what_the_server_takes() -> None:
    limits = EventLimits(per_family={"plan": 4 * 1024 * 1024}, default=512 * 1024)
    assert limits.limit("plan") == 4 * 1024 * 1024 and limits.limit("progress") == 512 * 1024
    limits.server_max_payload = 1024 * 1024  # an external nats-server left at its default
    assert limits.limit("plan") == 1024 * 1024 - HEADERS_ROOM
    assert limits.limit("progress") == 512 * 1024


def test_an_event_over_its_limit_is_refused_before_any_row_is_made() -> None:
    renamed = UnitRenamed(code="21787", name="Xã Vĩnh Sơn " + "x" * 2000, level="commune", parent="52", path="52.21787")
    now = datetime.now(UTC)
    envelope = make_event("unit.renamed", unit_path=renamed.path, producer="plans", payload=renamed, at=now)
    assert outbox_row(envelope, prefix="t", limits=EventLimits(default=64 * 1024))["event_id"] == envelope.id
    with pytest.raises(EventTooLarge) as refused:
        outbox_row(envelope, prefix="t", limits=EventLimits(default=1024))
    assert refused.value.status == 413 and refused.value.problems[0].field == "body"
    assert "unit.renamed" in refused.value.problems[0].message and "quá lớn" in refused.value.problems[0].message


def test_every_stream_is_declared_with_its_limits() -> None:
    settings = Settings(event_max_bytes={"plan": 2_000_000}, event_default_max_bytes=100_000)
    configs = {config.name: config for config in stream_configs("t", settings)}
    assert set(configs) == {stream_name("t", family) for family in (*FAMILIES, DEAD_LETTER)}
    assert configs[stream_name("t", "plan")].max_msg_size == 2_000_000 + HEADERS_ROOM
    assert configs[stream_name("t", "progress")].max_msg_size == 100_000 + HEADERS_ROOM
    assert configs[stream_name("t", "progress")].discard == DiscardPolicy.NEW
    assert configs[stream_name("t", "audit")].discard == DiscardPolicy.OLD
    assert configs[stream_name("t", DEAD_LETTER)].discard == DiscardPolicy.OLD
    # the largest message of the largest family, with its headers and the dead letter's
    assert configs[stream_name("t", DEAD_LETTER)].max_msg_size == 2_000_000 + 2 * HEADERS_ROOM
