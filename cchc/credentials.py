"""The secrets `cchc up` keeps in its data folder (`secrets/`, readable by its owner only): the
key the plans service signs tokens with, its public half for the other services, the secret the
gateway proves itself with, the key notify seals webhook secrets with, and the first admin's
temporary password. Made once, reused after."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from shared import auth, sealing
from shared.nats_security import write_secret


def secrets_dir(data_dir: Path) -> Path:
    folder = data_dir / "secrets"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


@dataclass
class AuthFiles:
    signing_key: Path
    jwks: Path
    gateway_secret: Path
    secrets_key: Path

    def notify_env(self) -> dict[str, str]:
        """What only the notify service gets: the key its webhook secrets are sealed with."""
        return {"CCHC_SECRETS_KEY_FILE": str(self.secrets_key)}

    def service_env(self) -> dict[str, str]:
        """What every service gets: the public keys."""
        return {"CCHC_AUTH_JWKS_FILE": str(self.jwks)}

    def plans_env(self) -> dict[str, str]:
        """What only the plans service gets: the signing key and the gateway's secret."""
        return {
            "CCHC_AUTH_SIGNING_KEY_FILE": str(self.signing_key),
            "CCHC_GATEWAY_SECRET_FILE": str(self.gateway_secret),
        }


def ensure_auth_files(data_dir: Path) -> AuthFiles:
    folder = secrets_dir(data_dir)
    files = AuthFiles(
        folder / "token-signing-key.pem",
        folder / "token-keys.jwks.json",
        folder / "gateway.secret",
        folder / "secrets-at-rest.key",
    )
    if not files.signing_key.exists():
        write_secret(files.signing_key, auth.signing_pem(auth.new_signing_key()))
    key = auth.load_signing_key(files.signing_key.read_text())
    write_secret(files.jwks, json.dumps(auth.public_jwks(key)))
    if not files.gateway_secret.exists():
        write_secret(files.gateway_secret, secrets.token_urlsafe(32))
    if not files.secrets_key.exists():
        write_secret(files.secrets_key, sealing.new_key())
    return files


def admin_password_file(data_dir: Path) -> Path:
    """Where the first admin's password is kept (`cchc up`'s temporary one, compose's secret)."""
    return secrets_dir(data_dir) / "admin.password"


def ensure_password(path: Path) -> Path:
    """A random password in `path` (0600, its folder 0700), unless one is there already."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        write_secret(path, secrets.token_urlsafe(24) + "\n")
    return path
