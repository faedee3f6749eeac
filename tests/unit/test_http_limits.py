"""The HTTP edge's guards on a tiny ASGI app: body limits (declared and streamed) and trusted hosts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from cchc.gateway import cross_site
from shared.http_limits import BodyLimit, RouteLimit, TrustedHosts, allowed_hosts, host_allowed, host_name
from shared.settings import Settings
from shared.uploads import FORM_OVERHEAD

KIB = 1024


class Seen:
    """What the app behind the guard was given."""

    def __init__(self) -> None:
        self.calls = 0
        self.bytes = 0


def echo_app(seen: Seen, *, swallow: bool = False) -> Starlette:
    async def read(request: Request) -> Response:
        seen.calls += 1
        try:
            async for chunk in request.stream():
                seen.bytes += len(chunk)
        except Exception:  # noqa: BLE001 - an app that turns any broken body into its own 400
            if swallow:
                return JSONResponse({"detail": "hỏng"}, status_code=400)
            raise
        return JSONResponse({"read": seen.bytes})

    return Starlette(routes=[Route("/json", read, methods=["POST"]), Route("/upload", read, methods=["POST"])])


def guarded(app: ASGIApp) -> BodyLimit:
    return BodyLimit(app, default=4 * KIB, routes=[RouteLimit.upload(r"/upload", 64 * KIB)])


class Chunks:
    """A chunked body (no Content-Length) of `count` chunks of `size` bytes, counting what was taken."""

    def __init__(self, count: int, size: int = KIB) -> None:
        self.count = count
        self.size = size
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.taken += 1
            yield b"x" * self.size


def client(app: ASGIApp, host: str = "cchc.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}")


async def test_a_declared_length_over_the_limit_is_refused_before_the_app_is_called() -> None:
    seen = Seen()
    async with client(guarded(echo_app(seen))) as http:
        answer = await http.post("/json", content=b"x" * (4 * KIB + 1))
    assert answer.status_code == 413
    assert answer.json()["detail"][0]["field"] == "body"
    assert answer.json()["message"] == "body: nội dung yêu cầu quá lớn: tối đa 0,0 MB"
    assert seen.calls == 0


async def test_a_chunked_body_is_cut_at_the_limit_and_not_read_to_its_end() -> None:
    seen = Seen()
    body = Chunks(1000)  # 1000 KiB, no Content-Length
    async with client(guarded(echo_app(seen))) as http:
        answer = await http.post("/json", content=body)
    assert answer.status_code == 413, answer.text
    assert answer.json()["detail"][0]["field"] == "body"
    assert seen.bytes <= 4 * KIB  # the app never got the chunk that passed the limit
    assert body.taken <= 5  # nothing read past it


async def test_an_app_that_answers_the_broken_body_itself_still_answers_413() -> None:
    seen = Seen()
    async with client(guarded(echo_app(seen, swallow=True))) as http:
        answer = await http.post("/json", content=Chunks(100))
    assert answer.status_code == 413 and answer.json()["detail"][0]["field"] == "body"


async def test_bodies_within_their_route_limit_pass_and_an_upload_route_takes_more() -> None:
    seen = Seen()
    async with client(guarded(echo_app(seen))) as http:
        small = await http.post("/json", content=Chunks(4))
        upload = await http.post("/upload", content=Chunks(64 + 64))  # the file and the form around it
        too_big = await http.post("/upload", content=Chunks(64 + 65))
        declared = await http.post("/upload", content=b"x" * (64 * KIB + FORM_OVERHEAD + 1))
    assert small.status_code == 200 and small.json()["read"] == 4 * KIB
    assert upload.status_code == 200
    assert too_big.status_code == 413 and too_big.json()["detail"][0]["field"] == "file"
    assert declared.status_code == 413 and declared.json()["message"] == "file: tệp quá lớn: tối đa 0,1 MB"


def hosts_app() -> TrustedHosts:
    async def ok(_: Request) -> Response:
        return JSONResponse({"ok": True})

    settings = Settings(public_url="https://cchc.example.gov.vn", allowed_hosts=["*.xa.example.gov.vn"])
    return TrustedHosts(Starlette(routes=[Route("/", ok)]), allowed=allowed_hosts(settings))


async def test_only_the_systems_own_host_names_are_served() -> None:
    app = hosts_app()
    for host in (
        "cchc.example.gov.vn",
        "CCHC.example.gov.vn:443",
        "localhost:8000",
        "127.0.0.1",
        "a.xa.example.gov.vn",
    ):
        async with client(app, host) as http:
            assert (await http.get("/")).status_code == 200, host
    async with client(app, "rebind.attacker.example") as http:
        refused = await http.get("/")
    assert refused.status_code == 400
    assert refused.json()["detail"][0]["field"] == "Host"
    assert "rebind.attacker.example" in refused.json()["message"] and "CCHC_ALLOWED_HOSTS" in refused.json()["message"]
    async with client(app, "xa.example.gov.vn.attacker.example") as http:
        assert (await http.get("/")).status_code == 400


def test_host_names_are_compared_without_port_case_or_trailing_dot() -> None:
    assert host_name("Cchc.Vn:8000") == "cchc.vn" and host_name("cchc.vn.") == "cchc.vn"
    assert host_name("[::1]:8000") == "[::1]"
    assert host_allowed("a.b.vn", ["*.b.vn"]) and not host_allowed("b.vn", ["*.b.vn"])
    assert not host_allowed("evilb.vn", ["*.b.vn"])
    assert host_allowed("anything", ["*"])
    assert allowed_hosts(Settings(public_url="http://127.0.0.1:8000")) == ["127.0.0.1", "localhost", "[::1]"]


def test_a_referer_from_another_site_is_cross_site_when_no_origin_is_sent() -> None:
    def request(headers: dict[str, str]) -> Request:
        raw = [(k.encode(), v.encode()) for k, v in {"host": "cchc.test", **headers}.items()]
        return Request({"type": "http", "method": "POST", "path": "/", "headers": raw})

    public = "http://cchc.test"
    assert cross_site(request({"referer": "https://attacker.example/page"}), public)
    assert not cross_site(request({"referer": "http://cchc.test/plans/1"}), public)
    assert cross_site(request({"sec-fetch-site": "same-site"}), public)
    assert not cross_site(request({}), public)  # a script: no cross-site evidence


async def test_a_sender_gone_mid_body_is_not_a_server_error() -> None:
    messages = [{"type": "http.request", "body": b"x", "more_body": True}, {"type": "http.disconnect"}]

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    async def send(_: object) -> None:
        pass

    scope = {"type": "http", "method": "POST", "path": "/json", "headers": [], "query_string": b""}
    await guarded(echo_app(Seen()))(scope, receive, send)  # type: ignore[arg-type]  # no exception raised
