"""The single base URL: /api/... forwarded to the owning service, /healthz over all services,
the merged OpenAPI document with its docs page, and the merged AsyncAPI document of the events.

Credentials: a session (cookie `cchc_session` or `Authorization: Bearer cchc_s_…`) or an API
token (`Bearer cchc_t_…`) is exchanged at the plans service for a short-lived signed token,
which is what the services check (shared/auth.py); the exchange is remembered for a few seconds
(`CCHC_GATEWAY_CACHE_SECONDS`), so a revoked session or token stops working within that time.
A bearer JWT (an OIDC provider's) is passed on as it is. Cookies are not passed on. A write sent
with the cookie must come from the system's own pages (Fetch Metadata / Origin): cross-site form
posts are refused (CSRF). Request bodies stream through within their route's limit (413 past it)
and answers stream back; a Host name that is not the system's is refused (shared/http_limits.py)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from cchc.routes import service_for_path
from shared.http_limits import BodyLimit, RouteLimit, TrustedHosts, allowed_hosts, refusal, upload_routes
from shared.settings import Settings
from shared.uploads import FORM_OVERHEAD, PLAN_DOCUMENT_MAX_BYTES
from web import app as web

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length", "host"}
NOT_FORWARDED = HOP_BY_HOP | {"cookie", "authorization", "x-cchc-gateway", "x-forwarded-for"}
COOKIE = "cchc_session"
WHOLE_BYTES = 256 * 1024  # an answer up to this size is relayed whole, not streamed
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class Exchanges:
    """Short-lived tokens obtained for sessions and API tokens, kept for `ttl` seconds (by the
    credential's hash, at most `size` of them)."""

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self.items: OrderedDict[str, tuple[float, str]] = OrderedDict()

    @staticmethod
    def key(credential: str) -> str:
        """What a credential is remembered by: its hash, never itself."""
        return hashlib.sha256(credential.encode()).hexdigest()

    def get(self, key: str) -> str | None:
        item = self.items.get(key)
        if item is None or item[0] < time.monotonic():
            self.items.pop(key, None)
            return None
        return item[1]

    def drop(self, key: str) -> None:
        self.items.pop(key, None)

    def put(self, key: str, token: str) -> None:
        self.items[key] = (time.monotonic() + self.ttl, token)
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


def _denied(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": message, "message": message}, status_code=status, headers=headers)


def cross_site(request: Request, public_url: str) -> bool:
    """A browser's request made by another site's page (so not to be trusted with the cookie):
    Fetch Metadata says so (`cross-site`, or `same-site`: another origin of the same site), else
    the Origin, else the Referer names another origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:  # not a browser, or one that says nothing: no cross-site evidence
        return False
    own = urlsplit(public_url)
    theirs = urlsplit(origin)
    host = request.headers.get("host", "")
    return (theirs.scheme, theirs.netloc) != (own.scheme, own.netloc) and theirs.netloc != host


def _merge(documents: list[dict[str, Any]], keys: list[str], base: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for document in documents:
        for key in keys:
            section, name = key.split(".") if "." in key else (key, None)
            source = document.get(section, {})
            if name is not None:
                source = source.get(name, {})
                merged.setdefault(section, {}).setdefault(name, {}).update(source)
            else:
                merged.setdefault(section, {}).update(source)
    return merged


class Upstreams:
    """Each service's replicas (one URL or several), taken in turn; a replica that refuses the
    connection (killed, restarting) is passed over for the next, since nothing reached it."""

    def __init__(self, urls: Mapping[str, str | Sequence[str]]) -> None:
        self.replicas = {name: [u] if isinstance(u, str) else list(u) for name, u in urls.items()}
        self._turn = dict.fromkeys(self.replicas, 0)

    def __getitem__(self, service: str) -> str:
        """The first replica of `service` (for documents every replica serves alike)."""
        return self.replicas[service][0]

    def named(self) -> dict[str, str]:
        """Every replica by name: "tasks", then "tasks-2", "tasks-3" …"""
        return {
            name if index == 0 else f"{name}-{index + 1}": url
            for name, urls in self.replicas.items()
            for index, url in enumerate(urls)
        }

    def in_turn(self, service: str) -> list[str]:
        """The replicas of `service`, starting with the next one's turn."""
        urls = self.replicas[service]
        start = self._turn[service] = (self._turn[service] + 1) % len(urls)
        return urls[start:] + urls[:start]

    async def send(
        self, client: httpx.AsyncClient, service: str, build: Callable[[str], httpx.Request]
    ) -> httpx.Response:
        """Send to one replica after another while the connection is refused; the last refusal
        (or any other error) is raised."""
        urls = self.in_turn(service)
        for url in urls[:-1]:
            try:
                return await client.send(build(url), stream=True)
            except httpx.ConnectError:
                continue
        return await client.send(build(urls[-1]), stream=True)


def create_gateway(
    upstreams: Mapping[str, str | Sequence[str]],
    settings: Settings | None = None,
    *,
    client: httpx.AsyncClient | None = None,
) -> FastAPI:
    settings = settings or Settings()
    replicas = Upstreams(upstreams)
    # Forwarding and the credential exchange use separate pools: uploads and downloads in flight
    # (which hold a connection as long as a slow phone takes) never starve logins and exchanges.
    exchanger = client or httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=3.0), limits=httpx.Limits(max_connections=50)
    )
    client = client or httpx.AsyncClient(
        timeout=httpx.Timeout(60.0, connect=3.0), limits=httpx.Limits(max_connections=200)
    )
    streamed = upload_routes(settings)
    exchanges = Exchanges(settings.gateway_cache_seconds)
    secret = settings.secret("gateway_secret")

    async def signed_token(credential: str) -> str | JSONResponse:
        key = Exchanges.key(credential)
        cached = exchanges.get(key)
        if cached is not None:
            return cached
        if not secret:
            return _denied(401, "cổng chung chưa được cấu hình để xác thực (CCHC_GATEWAY_SECRET)")
        try:
            answer = await replicas.send(
                exchanger,
                "plans",
                lambda url: exchanger.build_request(
                    "POST",
                    f"{url}/internal/auth/exchange",
                    json={"credential": credential},
                    headers={"x-cchc-gateway": secret},
                    timeout=10.0,
                ),
            )
            await answer.aread()
        except httpx.HTTPError:
            return _denied(
                503, "Dịch vụ xác thực (plans) tạm thời không phản hồi, vui lòng thử lại", **{"Retry-After": "2"}
            )
        if answer.status_code != 200:
            message = answer.json().get("message", "mã xác thực không hợp lệ") if answer.content else ""
            return _denied(401, message, **{"WWW-Authenticate": 'Bearer realm="cchc", error="invalid_token"'})
        token: str = answer.json()["token"]
        exchanges.put(key, token)
        return token

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()

    app = FastAPI(title="CCHC", docs_url=None, openapi_url=None, redoc_url=None, lifespan=lifespan)

    async def fetch_all(path: str) -> dict[str, httpx.Response | Exception]:
        async def one(url: str) -> httpx.Response | Exception:
            try:
                return await client.get(url + path, timeout=3.0)
            except httpx.HTTPError as exc:
                return exc

        named = replicas.named()  # every replica answers for itself
        results = await asyncio.gather(*(one(url) for url in named.values()))
        return dict(zip(named, results, strict=True))

    @app.get("/api", include_in_schema=False)
    async def index() -> dict[str, Any]:
        return {
            "name": "CCHC — kế hoạch tuyên truyền cải cách hành chính",
            "web": "/",
            "docs": "/docs",
            "openapi": "/openapi.json",
            "asyncapi": "/asyncapi.json",
            "health": "/healthz",
        }

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        services: dict[str, Any] = {}
        for name, result in (await fetch_all("/healthz")).items():
            if isinstance(result, Exception):
                services[name] = {"status": "unavailable", "reason": f"không kết nối được ({type(result).__name__})"}
            else:
                body = result.json() if result.headers.get("content-type", "").startswith("application/json") else {}
                services[name] = {
                    "status": "ok" if result.status_code == 200 else "unavailable",
                    "reason": body.get("reason", result.reason_phrase),
                    "waiting": body.get("waiting", []),  # event families its relay holds back
                }
        down = {n: s["reason"] for n, s in services.items() if s["status"] != "ok"}
        body = {"status": "ok" if not down else "unavailable", "services": services}
        if down:
            body["reason"] = "; ".join(f"{n}: {r}" for n, r in down.items())
        return JSONResponse(body, status_code=200 if not down else 503)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> dict[str, Any]:
        docs = [
            r.json()
            for r in (await fetch_all("/openapi.json")).values()
            if isinstance(r, httpx.Response) and r.status_code == 200
        ]
        return _merge(
            docs,
            ["paths", "components.schemas", "components.securitySchemes"],
            {
                "openapi": "3.1.0",
                "info": {"title": "CCHC API", "version": "1"},
                "paths": {},
            },
        )

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="CCHC API")

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> dict[str, Any]:
        docs = [
            r.json()
            for r in (await fetch_all("/asyncapi.json")).values()
            if isinstance(r, httpx.Response) and r.status_code == 200
        ]
        return _merge(
            docs,
            ["channels", "operations", "components.messages", "components.schemas"],
            {
                "asyncapi": "3.0.0",
                "info": {
                    "title": "CCHC events",
                    "version": "1",
                    "description": (
                        "Sự kiện của hệ thống CCHC trên NATS JetStream (subject: cchc.<loại>.<đường dẫn đơn vị>)"
                    ),
                },
                "defaultContentType": "application/json",
            },
        )

    @app.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def forward(path: str, request: Request) -> Response:
        if any(part in (".", "..") for part in path.split("/")):  # no way out of /api to other routes
            return JSONResponse({"detail": f"không có đường dẫn /api/{path}"}, status_code=404)
        try:
            service = service_for_path(f"/api/{path}")
        except KeyError:
            return JSONResponse({"detail": f"không có đường dẫn /api/{path}"}, status_code=404)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_FORWARDED}
        peer = request.client.host if request.client else ""
        headers["x-forwarded-for"] = ", ".join(x for x in (request.headers.get("x-forwarded-for"), peer) if x)
        authorization = request.headers.get("authorization", "")
        scheme, _, presented = authorization.partition(" ")
        presented = presented.strip() if scheme.lower() == "bearer" else ""
        credential = presented or request.cookies.get(COOKIE, "")
        if not presented and credential and request.method in UNSAFE and cross_site(request, settings.public_url):
            return _denied(403, "Yêu cầu ghi gửi từ trang web khác bị từ chối (chống giả mạo yêu cầu, CSRF)")
        if credential.startswith(("cchc_s_", "cchc_t_")):
            exchanged = await signed_token(credential)
            if isinstance(exchanged, JSONResponse):
                return exchanged
            headers["authorization"] = f"Bearer {exchanged}"
        elif presented:
            headers["authorization"] = f"Bearer {presented}"  # a JWT: the service checks it
        chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
        content: bytes | AsyncIterator[bytes] | None = None
        if any(route.pattern.fullmatch(f"/api/{path}") for route in streamed):
            # an upload (up to its file's limit) streams on as it comes, never held whole here; a
            # sender that stops sending is cut after CCHC_BODY_IDLE_SECONDS
            if "content-length" in request.headers:
                headers["content-length"] = request.headers["content-length"]
            if chunked or headers.get("content-length", "0").strip() != "0":
                content = _steady(request.stream(), settings.body_idle_seconds)
        elif chunked or request.headers.get("content-length", "0").strip() != "0":
            # any other body (at most CCHC_MAX_BODY_BYTES, BodyLimit saw to it) is read before an
            # upstream connection is taken: a slow sender holds none
            try:
                async with asyncio.timeout(settings.body_idle_seconds * 4):
                    content = await request.body()
            except TimeoutError:
                return _too_slow(settings.body_idle_seconds * 4)

        # reading a scanned plan may take the service up to its OCR limit: the gateway waits longer
        reading = path == "plans/parse" and request.method == "POST"
        timeout = httpx.Timeout(settings.import_ocr_time_limit_seconds + 30, connect=3.0) if reading else client.timeout

        def build(url: str) -> httpx.Request:
            return client.build_request(
                request.method,
                f"{url}/api/{path}",
                params=request.query_params,
                content=content,
                headers=headers,
                timeout=timeout,
            )

        try:
            upstream = await replicas.send(client, service, build)
        except (TimeoutError, SlowSender):
            return _too_slow(settings.body_idle_seconds)
        except httpx.HTTPError:
            return JSONResponse(
                {
                    "detail": f"Dịch vụ {service} tạm thời không phản hồi, vui lòng thử lại (service unavailable)",
                    "service": service,
                },
                status_code=503,
                headers={"Retry-After": "2"},
            )
        if path == "auth/logout" and upstream.status_code < 300 and credential:
            exchanges.drop(Exchanges.key(credential))
        # bytes as the service sent them: its Content-Length and Content-Encoding still hold; a
        # small answer of known length (most JSON) whole, anything else (a DOCX, an evidence file)
        # streamed back as it comes
        relayed = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in upstream.headers.multi_items()  # several Set-Cookie stay several
            if name.lower() not in HOP_BY_HOP - {"content-length"}
        ]
        length = upstream.headers.get("content-length", "")
        if length.isdigit() and int(length) <= WHOLE_BYTES:
            try:
                body = b"".join([chunk async for chunk in upstream.aiter_raw()])
            finally:
                await upstream.aclose()
            response: Response = Response(body, status_code=upstream.status_code)
            response.raw_headers = relayed
            return response
        response = StreamingResponse(_relay(upstream), status_code=upstream.status_code)
        response.raw_headers = [*relayed, *response.raw_headers]
        return response

    web.mount(app, cross_site=lambda request: cross_site(request, settings.public_url))
    # outermost first: a foreign Host name, then a body past its limit, refused before anything reads it
    app.add_middleware(BodyLimit, default=settings.max_body_bytes, routes=body_limits(settings))
    app.add_middleware(TrustedHosts, allowed=allowed_hosts(settings))
    return app


class SlowSender(Exception):
    """The client stopped sending its body."""


async def _steady(stream: AsyncIterator[bytes], idle: float) -> AsyncIterator[bytes]:
    """The request body as it comes, cut (SlowSender) when no byte arrives for `idle` seconds."""
    chunks = stream.__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), idle)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise SlowSender from None
        yield chunk


def _too_slow(seconds: float) -> Response:
    message = f"gửi dữ liệu quá chậm: không nhận đủ nội dung yêu cầu trong {seconds:g} giây, hãy gửi lại"
    return Response(
        refusal(408, "body", message), status_code=408, media_type="application/json", headers={"Connection": "close"}
    )


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        await upstream.aclose()


def body_limits(settings: Settings) -> list[RouteLimit]:
    """The API's upload routes, and the pages that take the same files (a progress report with its
    evidence, a plan to import) or carry an imported plan's read text back (its review form,
    URL-encoded: up to three bytes sent for one read)."""
    return [
        *upload_routes(settings),
        RouteLimit.upload(r"/assignments/[^/]+", settings.evidence_max_bytes),
        RouteLimit.upload(r"/imports/new", PLAN_DOCUMENT_MAX_BYTES),
        RouteLimit.of(r"/imports/review", 3 * PLAN_DOCUMENT_MAX_BYTES + FORM_OVERHEAD, field="body"),
    ]
