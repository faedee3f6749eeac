"""The HTTP edge's guards, the same in the gateway and every service: a request body no larger
than its route allows — refused as soon as its declared length or the bytes streamed so far pass
the limit, chunked bodies too, never read to the end — and, in the gateway, only the host names
the system is reached by (a DNS-rebinding page's own host name is refused).

Plain ASGI middleware (not BaseHTTPMiddleware, which would hold the body): they see the
`http.request` messages one by one. The services check no Host name: only the gateway reaches them
(by compose service names or 127.0.0.1 ports, not published), and they honour no cookie — only the
signed bearer token the gateway puts on, which a rebinding page cannot have."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.settings import Settings
from shared.uploads import FORM_OVERHEAD, PLAN_DOCUMENT_MAX_BYTES, megabytes

LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


@dataclass(frozen=True)
class RouteLimit:
    """A route (path pattern, any method) whose body may be larger than the default, the field a
    refusal names (`file` for an upload) and the limit it tells (the file's, without the form)."""

    pattern: re.Pattern[str]
    max_bytes: int
    field: str = "file"
    shown: int | None = None

    @classmethod
    def of(cls, pattern: str, max_bytes: int, field: str = "file", *, shown: int | None = None) -> RouteLimit:
        return cls(re.compile(pattern), max_bytes, field, shown)

    @classmethod
    def upload(cls, pattern: str, file_bytes: int) -> RouteLimit:
        """An upload route: the file's limit plus the multipart form around it."""
        return cls.of(pattern, file_bytes + FORM_OVERHEAD, shown=file_bytes)


def upload_routes(settings: Settings) -> list[RouteLimit]:
    """The API's upload routes: their file limit plus the multipart form around it."""
    return [
        RouteLimit.upload(r"/api/assignments/[^/]+/evidence", settings.evidence_max_bytes),
        RouteLimit.upload(r"/api/plans/parse", PLAN_DOCUMENT_MAX_BYTES),
    ]


def refusal(status: int, field: str, message: str) -> bytes:
    """A 4xx body in the services' shape: {"detail": [{"field", "msg"}], "message"}."""
    body = {"detail": [{"field": field, "msg": message}], "message": f"{field}: {message}"}
    return json.dumps(body, ensure_ascii=False).encode()


async def _answer(send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    """Raised to the app from `receive` once the body passes its limit (an HTTPException, so that
    frameworks treat it as the client's fault); the middleware answers 413 whatever the app does."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"nội dung yêu cầu quá lớn: tối đa {megabytes(limit)}")


class BodyLimit:
    """413 for a body over its route's limit: a declared Content-Length at once (the app is not
    called), a streamed (chunked) body as soon as the bytes received pass it — the app never gets
    the chunk that does, and nothing more is read."""

    def __init__(self, app: ASGIApp, *, default: int, routes: Sequence[RouteLimit] = ()) -> None:
        self.app = app
        self.default = default
        self.routes = list(routes)
        # each limit's refusal made once, not for every request
        self._refusals = [self._refusal(route) for route in self.routes]
        self._default_refusal = refusal(413, "body", f"nội dung yêu cầu quá lớn: tối đa {megabytes(default)}")

    @staticmethod
    def _refusal(route: RouteLimit) -> bytes:
        if route.field == "file":  # the words of shared/uploads.py's own refusal
            message = f"tệp quá lớn: tối đa {megabytes(route.shown or route.max_bytes)}"
        else:
            message = f"nội dung yêu cầu quá lớn: tối đa {megabytes(route.max_bytes)}"
        return refusal(413, route.field, message)

    def limit_of(self, path: str) -> tuple[int, bytes]:
        """The route's limit and its refusal."""
        for route, refused in zip(self.routes, self._refusals, strict=True):
            if route.pattern.fullmatch(path):
                return route.max_bytes, refused
        return self.default, self._default_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, too_large = self.limit_of(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _answer(send, 413, too_large, [(b"connection", b"close")])
            return

        received = 0
        passed = False  # the body went past the limit: whatever the app answers, the answer is 413
        started = False

        async def counted() -> Message:
            nonlocal received, passed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    passed = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if passed:
                return  # the app's own answer to the broken body (400, 422, 500 …) is replaced
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except ClientDisconnect:
            return  # the sender went away mid-body (e.g. the gateway, having refused it): no one to answer
        except Exception:
            if not passed:
                raise
        if passed and not started:
            await _answer(send, 413, too_large, [(b"connection", b"close")])


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def allowed_hosts(settings: Settings) -> list[str]:
    """The host names the gateway answers to: CCHC_PUBLIC_URL's, loopback (the health checks,
    `cchc up` on this machine) and CCHC_ALLOWED_HOSTS (`*.example.gov.vn` for any subdomain,
    `*` for any host at all)."""
    own = (urlsplit(settings.public_url).hostname or "").lower()
    own = f"[{own}]" if ":" in own else own  # an IPv6 address, as a Host header writes it
    return list(dict.fromkeys([own, *LOOPBACK, *(h.strip().lower().rstrip(".") for h in settings.allowed_hosts)]))


def host_name(header: str) -> str:
    """The name in a Host header, without its port: `cchc.vn:8000` → `cchc.vn`, `[::1]:80` → `[::1]`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0].rstrip(".") if ":" in header else header.rstrip(".")


def host_allowed(name: str, allowed: Sequence[str]) -> bool:
    for pattern in allowed:
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]) and len(name) > len(pattern) - 1:
            return True
    return False


class TrustedHosts:
    """400 for a request whose Host header is not one of the system's names: a page on another
    site whose name was pointed at this server (DNS rebinding) reaches nothing."""

    def __init__(self, app: ASGIApp, *, allowed: Sequence[str], setting: str = "CCHC_ALLOWED_HOSTS") -> None:
        self.app = app
        self.allowed = list(allowed)
        self.setting = setting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        name = host_name(_header(scope, b"host") or "")
        if host_allowed(name, self.allowed):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        shown = name[:100] or "(trống)"
        message = (
            f"hệ thống không phục vụ tên máy chủ «{shown}» "
            f"(thêm tên này vào {self.setting} nếu đúng là địa chỉ của hệ thống)"
        )
        await _answer(send, 400, refusal(400, "Host", message))
