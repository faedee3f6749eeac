"""The officials' web app, served by the gateway at the base URL: a page room per concept
(session, dashboard, plans, progress, reports, inbox, admin), each `web/<room>/routes.py` with its
templates in `web/<room>/templates/`. Static files (vendored htmx, Pico CSS, the Be Vietnam Pro
font) are served from /static with their version in the name."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import validation
from web.kit import ACCESS_ATTRIBUTE, HERE, ROOMS, PageError, SignIn, login_url, render

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
NOT_PAGES = ("/api/", "/static/", "/healthz", "/openapi.json", "/asyncapi.json", "/docs")
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class PagesGuard:
    """ASGI middleware of the gateway for the pages: a write sent by another site's page is
    refused (CSRF), a page gets the security headers and is not cached, a static file is cached a
    day. Plain ASGI, so that the API passes straight through: as a BaseHTTPMiddleware it ran every
    /api request (and each chunk of its streamed answer) through an extra task and memory stream."""

    def __init__(self, app: ASGIApp, cross_site: Callable[[Request], bool]) -> None:
        self.app = app
        self.cross_site = cross_site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or (path.startswith(NOT_PAGES) and not path.startswith("/static/")):
            await self.app(scope, receive, send)
            return
        if path.startswith("/static/"):
            await self.app(scope, receive, _headed(send, {"cache-control": "public, max-age=86400"}, replace=True))
            return
        page_send = _headed(send, {**SECURITY_HEADERS, "cache-control": "no-store"}, replace=False)
        if scope["method"] in UNSAFE and self.cross_site(request := Request(scope, receive)):
            message = "Yêu cầu gửi từ trang web khác bị từ chối (chống giả mạo yêu cầu, CSRF)."
            refused = render(request, "error.html", {"status": 403, "message": message}, status=403)
            await refused(scope, receive, page_send)
            return
        await self.app(scope, receive, page_send)


def _headed(send: Send, headers: dict[str, str], *, replace: bool) -> Send:
    """`send` with these headers on the answer: in place of the app's (`replace`), or where it set none."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = MutableHeaders(scope=message)
            for name, value in headers.items():
                if replace or name not in present:
                    present[name] = value
        await send(message)

    return sending


def page_access(route: APIRoute) -> tuple[str, str] | None:
    """The access a page declared (`signed_in` or `public`, with its words), or None."""
    for dependency in route.dependant.dependencies:
        declared = getattr(dependency.call, ACCESS_ATTRIBUTE, None)
        if declared is not None:
            return declared  # type: ignore[no-any-return]
    return None


def routes() -> list[APIRoute]:
    """Every page route of every room."""
    found: list[APIRoute] = []
    for room in ROOMS:
        module = importlib.import_module(f"web.{room}.routes")
        found.extend(r for r in module.router.routes if isinstance(r, APIRoute))
    return found


def mount(app: FastAPI, *, cross_site: Any) -> None:
    """Add the pages to the gateway `app`. `cross_site(request)` tells a write sent by another
    site's page (refused: the session cookie is not to be used by other sites, CSRF)."""
    missing = [f"{sorted(r.methods or ())} {r.path}" for r in routes() if page_access(r) is None]
    if missing:
        raise RuntimeError("pages without an access declaration (web.kit.signed_in / public): " + "; ".join(missing))
    for room in ROOMS:
        app.include_router(importlib.import_module(f"web.{room}.routes").router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    app.add_middleware(PagesGuard, cross_site=cross_site)

    @app.exception_handler(SignIn)
    async def sign_in(request: Request, exc: SignIn) -> Response:
        target = login_url(exc.next_url)
        if request.headers.get("hx-request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": target})
        return Response(status_code=303, headers={"location": target})

    @app.exception_handler(StarletteHTTPException)
    async def not_a_page(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        message = "Không có trang này." if exc.status_code == 404 else str(exc.detail)
        return render(request, "error.html", {"status": exc.status_code, "message": message}, status=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def unreadable_address(request: Request, exc: RequestValidationError) -> Response:
        """A page address with a part it cannot read (/plans/abc, ?trang=x): the error page in
        Vietnamese, 404 for the path (no such page), 400 for a query value."""
        if request.url.path.startswith(NOT_PAGES):
            return await request_validation_exception_handler(request, exc)
        errors = exc.errors()
        if any(e.get("loc", ("",))[0] == "path" for e in errors):
            status, message = 404, "Không có trang này."
        else:
            named = "; ".join(f"{e['loc'][-1]}: {validation.vietnamese(e)}" for e in errors)
            status, message = 400, f"Địa chỉ trang có giá trị không đọc được ({named})."
        return render(request, "error.html", {"status": status, "message": message}, status=status)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> HTMLResponse:
        return render(request, "error.html", {"status": exc.status, "message": exc.message}, status=exc.status)
