"""Secrets kept at rest (webhook signing secrets): sealed with Fernet (AES-128-CBC with an
HMAC-SHA256, from `cryptography`) under the key `CCHC_SECRETS_KEY` / `CCHC_SECRETS_KEY_FILE`,
which `cchc up` makes in its data folder. A value from before sealing (no `sealed:` prefix) is
read as it is and sealed the next time it is written."""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken

from shared.settings import Settings

PREFIX = "sealed:"


class SealingError(RuntimeError):
    """No key to seal with, or a sealed value the key cannot open."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def _fernet(settings: Settings) -> Fernet:
    key = settings.secret("secrets_key")
    if not key:
        raise SealingError("CCHC_SECRETS_KEY(_FILE) chưa được đặt: không mã hóa được khóa bí mật webhook")
    return _fernet_of(key)


@functools.cache
def _fernet_of(key: str) -> Fernet:  # one per key, not one per delivery
    return Fernet(key.encode())


def seal(settings: Settings, plain: str) -> str:
    return PREFIX + _fernet(settings).encrypt(plain.encode()).decode()


def unseal(settings: Settings, stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored  # kept before sealing
    try:
        return _fernet(settings).decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise SealingError("khóa bí mật webhook không mở được bằng CCHC_SECRETS_KEY hiện tại") from None


def check(settings: Settings) -> None:
    """At start-up: the key is there and is a Fernet key (so a bad one stops the service, not a delivery)."""
    _fernet(settings)
