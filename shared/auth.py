"""Reading the caller from its credential, in every service: the one dependency each route
declares (`allow(Right.report, scope="...")`), the signed tokens it accepts, and the 401 that
names what is missing.

A service accepts only a signed JWT in `Authorization: Bearer`:
- the system's own short-lived tokens (issuer `cchc`, ES256), which the gateway obtains from
  the plans service in exchange for a session cookie or an API token (so a revoked session or
  token stops working at once, and a request that bypasses the gateway with a cookie or an API
  token is refused, never more powerful);
- with OIDC configured, the identity provider's tokens, checked against its JWKS, their unit and
  roles read from the claims the settings name.
The private key never leaves the plans service (and the tests that stand in for it); the other
services hold only the public keys."""

from __future__ import annotations

import asyncio
import base64
import contextvars
import functools
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from shared import audit
from shared.access import EVERYWHERE, Caller, Right, Role, rights_of
from shared.events import Actor, current_actor
from shared.settings import Settings

ISSUER = "cchc"
AUDIENCE = "cchc"
LOCAL_ALGORITHMS = ["ES256"]
OIDC_ALGORITHMS = ["RS256", "ES256", "PS256"]
ACCESS_SECONDS = 300

# The unit subtree of the request being served, for row-level security (shared/db.py sets it
# per transaction); unset means no rows (fail closed), "*" every row.
current_scope: contextvars.ContextVar[str | None] = contextvars.ContextVar("cchc_scope", default=None)


class Unauthorized(Exception):
    """401: no credential (`invalid` False), or one that cannot be trusted (expired, forged,
    revoked)."""

    def __init__(self, message: str, *, invalid: bool = True) -> None:
        super().__init__(message)
        self.invalid = invalid


def new_signing_key() -> ECKey:
    return load_signing_key(ECKey.generate_key("P-256").as_pem(private=True).decode())


@functools.lru_cache(maxsize=8)
def load_signing_key(pem: str) -> ECKey:
    """The signing key from its PEM; its id is its thumbprint, so the JWKS made from it matches."""
    key = ECKey.import_key(pem)
    return ECKey.import_key(pem, {"kid": key.thumbprint()[:16], "use": "sig", "alg": "ES256"})


def signing_pem(key: ECKey) -> str:
    return key.as_pem(private=True).decode()


def public_jwks(*keys: ECKey) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def mint(
    key: ECKey,
    *,
    subject: str,
    unit_path: str,
    roles: Iterable[Role | str] = (),
    rights: Iterable[Right | str] | None = None,
    name: str = "",
    kind: str = "user",
    seconds: int = ACCESS_SECONDS,
    now: float | None = None,
    session_id: str | None = None,
) -> str:
    """A token of the system's own: who, as which unit, with which roles (or, for a machine
    client, which rights), valid for `seconds`."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "unit": unit_path,
        "roles": [str(r) for r in roles],
        "name": name,
        "kind": kind,
        "iat": issued,
        "exp": issued + seconds,
        "jti": uuid.uuid4().hex,
    }
    if rights is not None:
        claims["rights"] = sorted(str(r) for r in rights)
    if session_id is not None:
        claims["sid"] = session_id
    return jwt.encode({"alg": "ES256", "kid": key.kid or ""}, claims, key)


def _claim(claims: dict[str, Any], dotted: str) -> Any:
    value: Any = claims
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass
class Oidc:
    """An identity provider's tokens: issuer, audience, where its keys are, which claims carry
    the unit path and the roles."""

    issuer: str
    jwks_url: str
    audience: str | None
    unit_claim: str
    roles_claim: str
    keys: KeySet | None = None
    fetched: float = 0.0
    refetched: float = -1e9  # the last fetch a token's unknown key id caused
    missed: dict[str, float] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def key_set(self, *, kid: str | None = None) -> KeySet:
        """The provider's keys, fetched at most every 10 minutes — and again when a token names
        a key id not among them (the provider rotated its keys), once a minute per such id, so
        forged key ids cannot make us hammer the provider."""
        now = time.monotonic()
        fresh = self.keys is not None and now - self.fetched <= 600
        if fresh and self.keys is not None and (kid is None or any(k.kid == kid for k in self.keys.keys)):
            return self.keys  # the common case: no lock, no fetch
        async with self.lock:
            now = time.monotonic()
            unknown = kid is not None and self.keys is not None and all(k.kid != kid for k in self.keys.keys)
            # once a minute per unknown key id, and at most every 10 s whatever the id
            retry = unknown and now - self.missed.get(kid or "", -1e9) > 60 and now - self.refetched > 10
            if self.keys is None or now - self.fetched > 600 or retry:
                if unknown:
                    if len(self.missed) > 1000:
                        self.missed.clear()
                    self.missed[kid or ""] = now
                    self.refetched = now
                async with httpx.AsyncClient(timeout=5.0) as client:
                    response = await client.get(self.jwks_url)
                    response.raise_for_status()
                    self.keys = KeySet.import_key_set(response.json())
                self.fetched = now
            return self.keys


class Verifier:
    """Turns a bearer token into a Caller, or raises Unauthorized saying why."""

    def __init__(self, local: KeySet | None, oidc: Oidc | None = None) -> None:
        self.local = local
        self.oidc = oidc

    @classmethod
    def from_settings(cls, settings: Settings) -> Verifier:
        local = None
        jwks = settings.secret("auth_jwks")
        if jwks:
            local = KeySet.import_key_set(json.loads(jwks))  # type: ignore[arg-type]
        elif pem := settings.secret("auth_signing_key"):
            local = KeySet.import_key_set(public_jwks(load_signing_key(pem)))  # type: ignore[arg-type]
        oidc = None
        if settings.oidc_issuer and not settings.oidc_audience:
            raise RuntimeError(
                "CCHC_OIDC_AUDIENCE chưa được đặt: không nhận mã của nhà cung cấp định danh cấp cho ứng dụng khác"
            )
        if settings.oidc_issuer:
            oidc = Oidc(
                issuer=settings.oidc_issuer.rstrip("/"),
                jwks_url=settings.oidc_jwks_url or settings.oidc_issuer.rstrip("/") + "/protocol/openid-connect/certs",
                audience=settings.oidc_audience,
                unit_claim=settings.oidc_unit_claim,
                roles_claim=settings.oidc_roles_claim,
            )
        return cls(local, oidc)

    async def caller(self, token: str) -> Caller:
        try:
            # unverified, only to pick the keys the token is then checked with
            header = json.loads(_part(token, 0))
            claims_issuer = json.loads(_part(token, 1)).get("iss")
        except (ValueError, IndexError, UnicodeDecodeError, AttributeError, RecursionError):
            raise Unauthorized("mã xác thực không đọc được (không phải JWT)") from None
        if claims_issuer == ISSUER and self.local is not None:
            return self._local(token)
        if self.oidc is not None and claims_issuer == self.oidc.issuer:
            return await self._oidc(token, header.get("kid"))
        raise Unauthorized("mã xác thực không do hệ thống hay nhà cung cấp định danh đã cấu hình cấp")

    def _local(self, token: str) -> Caller:
        assert self.local is not None
        try:
            decoded = jwt.decode(token, self.local, algorithms=LOCAL_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": ISSUER},
                aud={"essential": True, "value": AUDIENCE},
                exp={"essential": True},
                sub={"essential": True},
                leeway=30,
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise Unauthorized(_why(exc)) from None
        claims = decoded.claims
        roles = tuple(Role(r) for r in claims.get("roles", []) if r in Role.__members__)
        explicit = claims.get("rights")
        rights = frozenset(Right(r) for r in explicit if r in Right.__members__) if explicit is not None else None
        return _caller(claims, subject=str(claims["sub"]), unit=claims.get("unit"), roles=roles, rights=rights)

    async def _oidc(self, token: str, kid: str | None) -> Caller:
        assert self.oidc is not None
        oidc = self.oidc
        try:
            keys = await oidc.key_set(kid=kid)
            decoded = jwt.decode(token, keys, algorithms=OIDC_ALGORITHMS)
            registry: dict[str, Any] = {
                "iss": {"essential": True, "value": oidc.issuer},
                "exp": {"essential": True},
                "sub": {"essential": True},
            }
            if oidc.audience:
                registry["aud"] = {"essential": True, "value": oidc.audience}
            jwt.JWTClaimsRegistry(leeway=30, **registry).validate(decoded.claims)
        except httpx.HTTPError:
            raise Unauthorized("không lấy được khóa (JWKS) của nhà cung cấp định danh") from None
        except (JoseError, ValueError) as exc:
            raise Unauthorized(_why(exc)) from None
        claims = decoded.claims
        raw_roles = _claim(claims, oidc.roles_claim) or []
        roles = tuple(Role(r) for r in raw_roles if isinstance(r, str) and r in Role.__members__)
        unit = _claim(claims, oidc.unit_claim)
        # the provider's own `kind` or `sid` (Keycloak's session id) mean nothing here
        claims = {k: v for k, v in claims.items() if k not in ("kind", "sid")}
        return _caller(claims, subject=f"oidc:{claims['sub']}", unit=unit, roles=roles, rights=None)


def _part(token: str, index: int) -> str:
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    part = parts[index]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def _why(exc: Exception) -> str:
    name = type(exc).__name__
    if "Expired" in name:
        return "mã xác thực đã hết hạn; đăng nhập lại"
    if "Signature" in name:
        return "chữ ký của mã xác thực không đúng"
    if getattr(exc, "error", "") == "invalid_key_id":
        return "chữ ký của mã xác thực không do khóa nào được tin cậy tạo ra"
    detail = getattr(exc, "description", None) or getattr(exc, "error", name)
    return f"mã xác thực không hợp lệ ({detail})"


def _caller(
    claims: dict[str, Any], *, subject: str, unit: Any, roles: tuple[Role, ...], rights: frozenset[Right] | None
) -> Caller:
    if not isinstance(unit, str) or not unit or (unit != EVERYWHERE and not all(unit.split("."))):
        raise Unauthorized("mã xác thực không nêu đơn vị của người dùng")
    return Caller(
        subject=subject,
        unit_path=unit,
        rights=rights if rights is not None else rights_of(roles),
        name=str(claims.get("name") or claims.get("preferred_username") or ""),
        roles=roles,
        kind=str(claims.get("kind") or "user"),
        extra={"sid": claims["sid"]} if claims.get("sid") else {},
    )


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@dataclass(frozen=True)
class Rule:
    """What a route needs: a right (None: any signed-in caller; `public`: no credential at all)
    and, in words, how the unit it acts on is checked against the caller's subtree. It is the
    route's dependency: it returns the Caller, and the OpenAPI document shows it."""

    right: Right | None
    scope: str
    public: bool = False

    async def __call__(self, request: Request) -> Caller | None:
        if self.public:
            return None
        verifier: Verifier = request.app.state.service.verifier
        token = bearer(request)
        if token is None:
            raise Unauthorized("cần đăng nhập (thiếu mã xác thực Bearer)", invalid=False)
        caller = await verifier.caller(token)
        if self.right is not None:
            caller.require_right(self.right)
        current_scope.set(caller.unit_path)
        actor = Actor(**caller.actor())
        current_actor.set(actor)
        info = audit.current.get()
        if info is not None:
            route = request.scope.get("route")
            info.actor = actor
            info.route = getattr(route, "path", "") or request.url.path
            info.params = dict(request.path_params)
            info.query = dict(request.query_params)
        return caller

    def describe(self) -> dict[str, Any]:
        if self.public:
            return {"public": True, "scope": self.scope}
        return {"right": self.right.value if self.right else "signed-in", "scope": self.scope}


def allow(right: Right | None, *, scope: str) -> Callable[..., Any]:
    """The route's declaration: `caller: Caller = Depends(allow(Right.report, scope="the assignment's unit"))`."""
    return Rule(right, scope)


def public(why: str) -> Callable[..., Any]:
    """A route anyone may call (logging in, the health check): `Depends(public("..."))`."""
    return Rule(None, why, public=True)


def rule_of(route: Any) -> Rule | None:
    """The Rule a FastAPI route depends on, if any (searched through its dependencies)."""
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Rule):
            return dependant.call
        stack.extend(dependant.dependencies)
    return None
