"""Identity end to end in this process: accounts and API tokens in the plans service, logging in,
the gateway's exchange of a session cookie or API token for the short-lived signed token, and
every service refusing what it cannot trust — on real NATS and PostgreSQL, through the real
gateway (create_gateway) in front of the in-process services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from cchc.gateway import create_gateway
from services.plans import identity
from shared import auth
from shared.access import EVERYWHERE, Role
from tests.integration.conftest import FACTORIES, SIGNING_KEY, Identity, System, officer

pytestmark = pytest.mark.integration

PROVINCE = "52"


@pytest.fixture
async def gateway(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """The real gateway, its upstream calls going to the in-process services."""
    mounts = {f"http://{name}": httpx.ASGITransport(app=system.apps[name]) for name in FACTORIES}
    upstream = httpx.AsyncClient(mounts=mounts)
    settings = system.settings.model_copy(update={"gateway_cache_seconds": 0.0, "public_url": "http://cchc.test"})
    app = create_gateway({name: f"http://{name}" for name in FACTORIES}, settings, client=upstream)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cchc.test") as client:
        yield client
    await upstream.aclose()


async def units(system: System) -> dict[str, str]:
    """Province 52 loaded; two of its communes (code → path)."""
    loaded = await system.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": [PROVINCE]})
    assert loaded.status_code == 200, loaded.text
    items = (await system.get("/api/units", params={"parent": PROVINCE, "level": "commune"})).json()
    communes = items["items"][:2]
    assert len(communes) == 2, items
    return {u["code"]: u["path"] for u in communes}


async def add_user(system: System, username: str, unit: str, roles: list[str], password: str) -> dict[str, Any]:
    response = await system.post(
        "/api/users", json={"username": username, "name": username, "unit": unit, "roles": roles, "password": password}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_a_commune_officer_logs_in_through_the_gateway_and_acts_as_its_unit(
    system: System, gateway: httpx.AsyncClient
) -> None:
    communes = await units(system)
    code = next(iter(communes))
    await add_user(system, "canbo.xa", code, ["officer"], "mat-khau-dai-1")

    answer = await login(gateway, "canbo.xa", "mat-khau-dai-1")
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "cchc_session=" in cookie
    assert answer.json()["token"].startswith("cchc_s_")

    me = await gateway.get("/api/auth/me")  # the cookie, exchanged by the gateway
    assert me.status_code == 200, me.text
    assert me.json()["unit_path"] == communes[code] and me.json()["roles"] == ["officer"]
    assert "report" in me.json()["rights"] and "plan" not in me.json()["rights"]

    # the same session as a bearer token, for scripts
    script = await gateway.get("/api/auth/me", headers={"Authorization": f"Bearer {answer.json()['token']}"})
    assert script.status_code == 200 and script.json()["subject"] == me.json()["subject"]

    # a write with the cookie from another site's page is refused (CSRF); the same from ours is not
    forged = await gateway.post(
        "/api/auth/password",
        json={"old_password": "mat-khau-dai-1", "new_password": "mat-khau-moi-2"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403 and "CSRF" in forged.json()["message"]
    own = await gateway.post(
        "/api/auth/password",
        json={"old_password": "mat-khau-dai-1", "new_password": "mat-khau-moi-2"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert own.status_code == 204, own.text

    # no way out of /api through dot segments, to the plans service's internal routes
    escape = await gateway.post("/api/units/%2e%2e/%2e%2e/internal/auth/exchange", json={"credential": "x"})
    assert escape.status_code == 404

    out = await gateway.post("/api/auth/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert out.status_code == 204
    gone = await gateway.get("/api/auth/me", headers={"Authorization": f"Bearer {answer.json()['token']}"})
    assert gone.status_code == 401 and "kết thúc" in gone.json()["message"]
    assert "Bearer" in gone.headers["www-authenticate"]


async def test_wrong_passwords_are_throttled_per_account_and_recorded(
    system: System, gateway: httpx.AsyncClient
) -> None:
    communes = await units(system)
    await add_user(system, "lanhdao", next(iter(communes)), ["head"], "mat-khau-dai-1")
    for _ in range(system.settings.login_max_failures):
        wrong = await login(gateway, "lanhdao", "sai-mat-khau")
        assert wrong.status_code == 401 and wrong.json()["message"] == "tên đăng nhập hoặc mật khẩu không đúng"
    unknown = await login(gateway, "khong-co-ai", "sai-mat-khau")
    assert unknown.json()["message"] == wrong.json()["message"]  # the same answer: no account probing
    blocked = await login(gateway, "lanhdao", "mat-khau-dai-1")  # even the right password, for now
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "quá nhiều lần" in blocked.json()["message"]


async def test_admins_manage_accounts_only_within_their_subtree(system: System) -> None:
    communes = await units(system)
    first, second = communes
    province_admin = await add_user(system, "qt.tinh", PROVINCE, ["admin"], "mat-khau-dai-1")
    assert province_admin["unit_path"] == PROVINCE
    commune_admin = system.as_(identity_of(communes[first], Role.admin))

    made = await commune_admin.post("/api/users", json={"username": "cb.a", "unit": first, "roles": ["officer"]})
    assert made.status_code == 201, made.text
    assert made.json()["must_change_password"] and len(made.json()["temporary_password"]) >= 12

    sibling = await commune_admin.post("/api/users", json={"username": "cb.b", "unit": second, "roles": ["officer"]})
    assert sibling.status_code == 403 and second in sibling.json()["message"]
    upwards = await commune_admin.post("/api/users", json={"username": "cb.c", "unit": PROVINCE, "roles": ["head"]})
    assert upwards.status_code == 403
    national = await commune_admin.post("/api/users", json={"username": "cb.d", "unit": "*", "roles": ["admin"]})
    assert national.status_code == 403

    listed = (await commune_admin.get("/api/users")).json()["items"]
    assert {u["username"] for u in listed} == {"cb.a"}  # not the province's admin
    hidden = await commune_admin.patch(f"/api/users/{province_admin['id']}", json={"disabled": True})
    assert hidden.status_code == 404  # another subtree's account is not even named

    officer_only = await system.as_(officer(communes[first])).get("/api/users")
    assert officer_only.status_code == 403 and "quản trị" in officer_only.json()["message"]

    bad = await system.post("/api/users", json={"username": "x", "unit": "khong-co", "roles": []})
    assert bad.status_code == 422
    assert {p["field"] for p in bad.json()["detail"]} >= {"username", "roles"}
    unknown_unit = await system.post("/api/users", json={"username": "cb.e", "unit": "khong-co", "roles": ["officer"]})
    assert unknown_unit.status_code == 422 and unknown_unit.json()["detail"][0]["field"] == "unit"


def identity_of(unit_path: str, role: Role) -> Identity:
    return Identity(unit_path, (role,), name=f"{role} {unit_path}")


async def test_api_tokens_are_shown_once_confined_and_revocable(system: System, gateway: httpx.AsyncClient) -> None:
    communes = await units(system)
    made = await system.post("/api/tokens", json={"name": "cổng dữ liệu tỉnh", "unit": PROVINCE, "rights": ["read"]})
    assert made.status_code == 201, made.text
    secret = made.json()["token"]
    assert secret.startswith("cchc_t_")
    listed = (await system.get("/api/tokens")).json()["items"]
    assert all("token" not in item for item in listed) and listed[0]["rights"] == ["read"]

    as_token = {"Authorization": f"Bearer {secret}"}
    me = (await gateway.get("/api/auth/me", headers=as_token)).json()
    assert me["kind"] == "token" and me["rights"] == ["read"] and me["unit_path"] == PROVINCE
    write = await gateway.post(
        "/api/users", json={"username": "x.y", "unit": next(iter(communes)), "roles": ["officer"]}, headers=as_token
    )
    assert write.status_code == 403 and "(admin)" in write.json()["message"]

    # straight to a service, past the gateway, the API token is worth nothing
    direct = await system.clients["plans"].get("/api/auth/me", headers=as_token)
    assert direct.status_code == 401

    revoked = await system.delete(f"/api/tokens/{made.json()['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked"]
    after = await gateway.get("/api/auth/me", headers=as_token)
    assert after.status_code == 401 and "thu hồi" in after.json()["message"]


async def test_services_refuse_missing_forged_and_expired_tokens(system: System) -> None:
    route = "/api/auth/me"
    missing = await system.get(route, as_=None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="cchc"'
    other_key = ECKey.generate_key("P-256")
    forged = auth.mint(other_key, subject="user:x", unit_path=EVERYWHERE, roles=[Role.admin])
    refused = await system.get(route, as_=None, headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert "chữ ký" in refused.json()["message"]
    old = auth.mint(SIGNING_KEY, subject="user:x", unit_path=PROVINCE, roles=[Role.head], now=0)
    expired = await system.get(route, as_=None, headers={"Authorization": f"Bearer {old}"})
    assert expired.status_code == 401 and "hết hạn" in expired.json()["message"]
    garbage = await system.get(route, as_=None, headers={"Authorization": "Bearer abc"})
    assert garbage.status_code == 401


async def test_the_first_admin_is_made_once(system: System) -> None:
    async with system.services["plans"].transaction() as session:
        password = await identity.ensure_first_admin(session, username="admin", password=None, now=system.clock.now())
    assert password is not None and len(password) >= 12
    async with system.services["plans"].transaction() as session:
        again = await identity.ensure_first_admin(session, username="admin", password=None, now=system.clock.now())
    assert again is None
    answer = await system.post("/api/auth/login", as_=None, json={"username": "admin", "password": password})
    assert answer.status_code == 200 and answer.json()["user"]["unit_path"] == EVERYWHERE
    assert answer.json()["user"]["must_change_password"]
    assert answer.json()["expires_at"] > (system.clock.now() + timedelta(hours=1)).isoformat()
