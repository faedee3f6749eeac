"""Webhook secrets at rest (shared/sealing.py): sealed under the key, opened with it only."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from shared import sealing
from shared.settings import Settings

pytestmark = pytest.mark.unit


def with_key(key: str | None) -> Settings:
    return Settings(secrets_key=SecretStr(key) if key else None)


def test_a_sealed_secret_opens_with_its_key_only() -> None:
    settings = with_key(sealing.new_key())
    stored = sealing.seal(settings, "bí-mật-của-webhook")
    assert stored.startswith("sealed:") and "bí-mật" not in stored
    assert sealing.unseal(settings, stored) == "bí-mật-của-webhook"
    with pytest.raises(sealing.SealingError, match="không mở được"):
        sealing.unseal(with_key(sealing.new_key()), stored)


def test_a_secret_kept_before_sealing_reads_as_it_is() -> None:
    assert sealing.unseal(with_key(sealing.new_key()), "cu-chua-ma-hoa") == "cu-chua-ma-hoa"


def test_no_key_or_a_bad_key_stops_the_start() -> None:
    with pytest.raises(sealing.SealingError, match="CCHC_SECRETS_KEY"):
        sealing.check(with_key(None))
    with pytest.raises(ValueError):
        sealing.check(with_key("not-a-fernet-key"))
