"""The single base URL: /api/... forwarded to the owning service, /healthz over all services,
the merged OpenAPI document with its docs page, and the merged AsyncAPI document of the events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from cchc.routes import service_for_path

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length", "host"}


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


def create_gateway(upstreams: dict[str, str]) -> FastAPI:
    client = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=3.0))

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

        results = await asyncio.gather(*(one(url) for url in upstreams.values()))
        return dict(zip(upstreams, results, strict=True))

    @app.get("/", include_in_schema=False)
    async def index() -> dict[str, Any]:
        return {
            "name": "CCHC — kế hoạch tuyên truyền cải cách hành chính",
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
            ["paths", "components.schemas"],
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
        try:
            service = service_for_path(f"/api/{path}")
        except KeyError:
            return JSONResponse({"detail": f"không có đường dẫn /api/{path}"}, status_code=404)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            upstream = await client.request(
                request.method,
                f"{upstreams[service]}/api/{path}",
                params=request.query_params,
                content=await request.body(),
                headers=headers,
            )
        except httpx.HTTPError:
            return JSONResponse(
                {
                    "detail": f"Dịch vụ {service} tạm thời không phản hồi, vui lòng thử lại (service unavailable)",
                    "service": service,
                },
                status_code=503,
                headers={"Retry-After": "2"},
            )
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}}
        return Response(upstream.content, status_code=upstream.status_code, headers=out)

    return app
