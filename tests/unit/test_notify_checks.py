"""What notify checks before it stores a contact or a unit's or plan's rules, which channel a
contact can be reached on, and how the stored rules layer into the rules in force."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from services.notify import contacts, rules
from services.notify.domain import RuleSettings
from services.notify.notifications import delivery_key
from shared.errors import InputError
from shared.settings import Settings

pytestmark = pytest.mark.unit

SETTINGS = Settings(nats_url="nats://127.0.0.1:1", database_url="postgresql://x@127.0.0.1:1/x", due_soon_days=[1, 7])


def test_a_contact_without_the_address_of_a_channel_it_names_is_refused_naming_the_channel() -> None:
    body = contacts.ContactIn(unit="21787", name="Văn phòng", email="vp@example.vn", channels=["webhook", "email"])
    with pytest.raises(InputError) as refused:
        contacts.check(body)
    assert [(p.field, p.message) for p in refused.value.problems] == [("channels[0]", "kênh webhook cần webhook_url")]
    contacts.check(body.model_copy(update={"channels": ["email"]}))


def test_email_is_usable_only_with_an_smtp_host_and_a_webhook_only_with_its_url() -> None:
    both = SimpleNamespace(email="vp@example.vn", webhook_url="https://bridge.example.vn/hook")
    assert contacts.usable(both, "webhook", SETTINGS)
    assert not contacts.usable(both, "email", SETTINGS)  # no SMTP host configured
    assert contacts.usable(both, "email", SETTINGS.model_copy(update={"smtp_host": "smtp.example.vn"}))
    assert not contacts.usable(SimpleNamespace(email=None, webhook_url=None), "webhook", SETTINGS)


def test_reminder_days_outside_the_offered_ones_and_a_plan_digest_are_refused_by_field() -> None:
    with pytest.raises(InputError) as refused:
        rules.check(
            RuleSettings.model_validate({"due_soon_days": [7, 3], "digest": True}), scope="plan", offered=[1, 7]
        )
    assert [(p.field, p.message) for p in refused.value.problems] == [
        ("due_soon_days[1]", "chỉ chọn trong các mốc hệ thống nhắc: 7, 1 ngày"),
        ("digest", "bản tổng hợp hằng ngày do từng đơn vị chọn, không đặt cho kế hoạch"),
    ]
    rules.check(RuleSettings.model_validate({"due_soon_days": [1], "digest": True}), scope="unit", offered=[1, 7])


def test_the_rules_in_force_are_the_defaults_then_the_plans_then_the_units() -> None:
    assert rules.defaults(SETTINGS).due_soon_days == (7, 1)  # latest reminder first
    merged = rules.in_force(SETTINGS, {"plan": {"escalate": False, "overdue": False}, "unit": {"escalate": True}})
    assert merged.escalate and not merged.overdue
    shown = rules.rules_json(merged)
    assert shown["due_soon_days"] == [7, 1] and shown["digest_at"] == "07:00"


def test_a_delivery_key_is_the_triggering_event_then_contact_then_channel() -> None:
    event, notification, contact = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert delivery_key(event, notification, contact, "email") == f"{event}:{contact}:email"
    assert delivery_key(None, notification, contact, "webhook") == f"{notification}:{contact}:webhook"
