"""An OIDC provider's tokens (Keycloak's shape), checked by the services against the provider's
real JWKS endpoint — a uvicorn server in this process with RSA keys made here — with the unit and
roles read from the claims the settings name. No validator is mocked."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.servers import free_port
from shared.settings import Settings
from tests.integration.conftest import System

pytestmark = pytest.mark.integration

REALM = "/realms/cchc"
AUDIENCE = "cchc-api"


@dataclass
class Provider:
    port: int
    keys: list[RSAKey] = field(default_factory=lambda: [RSAKey.generate_key(2048, parameters={"kid": "k1"})])
    fetches: int = 0

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}{REALM}"

    async def certs(self, _: Request) -> JSONResponse:
        self.fetches += 1
        return JSONResponse({"keys": [k.as_dict(private=False) for k in self.keys]})

    def token(self, key: RSAKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "f1d2-keycloak-user",
            "preferred_username": "nguyen.van.a",
            "iat": now,
            "exp": now + 300,
            "cchc_unit": "52.21787",
            "realm_access": {"roles": ["officer", "offline_access"]},
            **claims,
        }
        signer = key or self.keys[0]
        return jwt.encode({"alg": "RS256", "kid": signer.kid or ""}, body, signer)


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    peer = Provider(port=free_port())
    app = Starlette(routes=[Route(f"{REALM}/protocol/openid-connect/certs", peer.certs)])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=peer.port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 — uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    try:
        yield peer
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def settings(settings: Settings, provider: Provider) -> Settings:
    return settings.model_copy(
        update={"oidc_issuer": provider.issuer, "oidc_audience": AUDIENCE, "oidc_roles_claim": "realm_access.roles"}
    )


async def me(system: System, token: str) -> Any:
    return await system.get("/api/auth/me", as_=None, headers={"Authorization": f"Bearer {token}"})


async def test_a_providers_token_names_the_unit_and_roles_by_the_mapped_claims(
    system: System, provider: Provider
) -> None:
    answer = await me(system, provider.token())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["subject"] == "oidc:f1d2-keycloak-user" and body["name"] == "nguyen.van.a"
    assert body["unit_path"] == "52.21787" and body["roles"] == ["officer"]  # offline_access is not ours
    assert body["rights"] == ["read", "report"]


async def test_tokens_the_provider_did_not_sign_or_that_are_not_for_us_are_refused(
    system: System, provider: Provider
) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # same key id, other key
    for token, why in [
        (provider.token(key=stranger), "chữ ký"),
        (provider.token(aud="another-app"), "aud"),
        (provider.token(exp=int(time.time()) - 3600), "hết hạn"),
        (provider.token(cchc_unit=None), "đơn vị"),
        (provider.token(iss="http://elsewhere/realms/cchc"), "không do hệ thống"),
    ]:
        answer = await me(system, token)
        assert answer.status_code == 401, (why, answer.text)
        assert why in answer.json()["message"], (why, answer.json()["message"])


async def test_a_rotated_provider_key_is_fetched_once_when_a_token_names_it(system: System, provider: Provider) -> None:
    assert (await me(system, provider.token())).status_code == 200
    before = provider.fetches
    newer = RSAKey.generate_key(2048, parameters={"kid": "k2"})
    provider.keys.append(newer)
    assert (await me(system, provider.token(key=newer))).status_code == 200
    assert provider.fetches == before + 1
    assert (await me(system, provider.token(key=newer))).status_code == 200
    assert provider.fetches == before + 1  # kept, not fetched per request


async def test_a_providers_kind_and_session_claims_are_not_taken_for_ours(system: System, provider: Provider) -> None:
    answer = await me(system, provider.token(kind="token", sid="not-a-uuid"))
    assert answer.status_code == 200 and answer.json()["kind"] == "user"
    out = await system.post(
        "/api/auth/logout", as_=None, headers={"Authorization": f"Bearer {provider.token(sid='x')}"}
    )
    assert out.status_code == 204  # nothing of ours to end, and no 500


def test_an_issuer_without_an_audience_is_refused_at_start(settings: Settings) -> None:
    from shared.auth import Verifier

    with pytest.raises(RuntimeError, match="CCHC_OIDC_AUDIENCE"):
        Verifier.from_settings(settings.model_copy(update={"oidc_audience": None}))
