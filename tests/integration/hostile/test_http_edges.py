"""Hostile requests at the HTTP edge, through the real gateway (create_gateway) in front of the
in-process services on real NATS and PostgreSQL: a body past its route's limit is refused with
413 as soon as it is declared or streamed past the limit, never read to its end (chunked bodies
too), by the gateway and by a service reached directly; a Host name that is not the system's is
refused (DNS rebinding); a write carrying the session cookie from another site's page is refused,
body-less or multipart, and changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from cchc.gateway import create_gateway
from shared.settings import Settings
from tests.integration.conftest import FACTORIES, System, officer
from tests.integration.plans_data import ONE_COMMUNE_PLAN
from tests.integration.steps import q1_assignment

pytestmark = pytest.mark.integration

KIB, MIB = 1024, 1024 * 1024
JSON_LIMIT = 2 * MIB  # CCHC_MAX_BODY_BYTES's default
EVIDENCE_MAX = 256 * KIB  # small, so that a file over it is quick to send
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
BOUNDARY = "cchc-test-boundary"
VINH_SON = "52.21787"  # Xã Vĩnh Sơn, where ONE_COMMUNE_PLAN's task goes


@pytest.fixture
async def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"evidence_max_bytes": EVIDENCE_MAX})


class Upstream:
    """The services as the gateway reaches them, with the requests that got through."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.paths: list[str] = []

    def app(self, name: str) -> Any:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                self.paths.append(scope["path"])
            await self.system.apps[name](scope, receive, send)

        return counted


@pytest.fixture
def upstream(system: System) -> Upstream:
    return Upstream(system)


@contextlib.asynccontextmanager
async def gateway_of(system: System, upstream: Upstream, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The real gateway at http://cchc.test (with `changes` to its settings), its upstream calls
    going to the in-process services."""
    mounts = {f"http://{name}": httpx.ASGITransport(app=upstream.app(name)) for name in FACTORIES}
    client = httpx.AsyncClient(mounts=mounts)
    settings = system.settings.model_copy(
        update={"gateway_cache_seconds": 0.0, "public_url": "http://cchc.test", **changes}
    )
    app = create_gateway({name: f"http://{name}" for name in FACTORIES}, settings, client=client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cchc.test") as http:
        yield http
    await client.aclose()


@pytest.fixture
async def gateway(system: System, upstream: Upstream) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_of(system, upstream) as http:
        yield http


class Stream:
    """A request body sent as it is produced (chunked: no Content-Length), counting what was taken."""

    def __init__(self, total: int, *, chunk: int = 64 * KIB, head: bytes = b"", tail: bytes = b"") -> None:
        self.total, self.chunk, self.head, self.tail = total, chunk, head, tail
        self.taken = 0  # bytes handed to the server so far
        self.finished = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.taken += len(self.head)
        yield self.head
        sent = 0
        while sent < self.total:
            piece = b"\x00" * min(self.chunk, self.total - sent)
            sent += len(piece)
            self.taken += len(piece)
            yield piece
        self.taken += len(self.tail)
        yield self.tail
        self.finished = True


def multipart(total: int) -> tuple[Stream, dict[str, str]]:
    """A multipart upload of one file of `total` bytes (a PDF's first bytes, then zeros), streamed."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bao-cao.pdf"\r\n'
        f"Content-Type: application/pdf\r\n\r\n"
    ).encode() + PDF
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return Stream(total, head=head, tail=tail), {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


async def assignment_of_vinh_son(system: System) -> dict[str, Any]:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    created = await system.post("/api/plans", json=ONE_COMMUNE_PLAN)
    assert created.status_code == 201, created.text
    issued = await system.post(f"/api/plans/{created.json()['id']}/issue")
    assert issued.status_code == 200, issued.text
    return await q1_assignment(system, "21787")


async def stored_evidence(system: System, assignment: dict[str, Any]) -> list[Any]:
    listed = await system.get(f"/api/assignments/{assignment['id']}/evidence")
    assert listed.status_code == 200, listed.text
    return list(listed.json()["items"])


async def logged_in(system: System, gateway: httpx.AsyncClient, username: str, unit: str, role: str) -> None:
    """A person of `unit` logged in through the gateway: the client holds the session cookie."""
    made = await system.post(
        "/api/users",
        json={"username": username, "name": username, "unit": unit, "roles": [role], "password": "mat-khau-dai-1"},
    )
    assert made.status_code == 201, made.text
    answer = await gateway.post("/api/auth/login", json={"username": username, "password": "mat-khau-dai-1"})
    assert answer.status_code == 200 and gateway.cookies.get("cchc_session"), answer.text


# ---- body limits ---------------------------------------------------------------------------------


async def test_a_chunked_50_mb_body_to_a_json_route_is_refused_without_being_read(
    system: System, gateway: httpx.AsyncClient, upstream: Upstream
) -> None:
    body = Stream(50 * MIB)
    answer = await gateway.post("/api/plans", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 413, answer.text
    refusal = answer.json()
    assert refusal["detail"][0]["field"] == "body"
    assert "quá lớn: tối đa 2,0 MB" in refusal["message"]
    # read up to the limit (2 MiB) and one chunk more at most: the rest was never taken
    assert not body.finished and body.taken <= JSON_LIMIT + 2 * body.chunk
    assert (await system.get("/api/plans")).json()["items"] == []


async def test_a_chunked_body_sent_to_a_service_directly_is_cut_there_too(system: System) -> None:
    body = Stream(50 * MIB)
    answer = await system.post("/api/plans", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 413, answer.text
    assert answer.json()["detail"][0]["field"] == "body"
    assert not body.finished and body.taken <= JSON_LIMIT + 2 * body.chunk


async def test_a_declared_length_over_the_limit_is_refused_at_once(
    gateway: httpx.AsyncClient, upstream: Upstream
) -> None:
    body = Stream(3 * MIB)
    answer = await gateway.post(
        "/api/plans", content=body, headers={"content-type": "application/json", "content-length": str(3 * MIB)}
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["detail"][0]["field"] == "body"
    assert body.taken == 0  # not a byte of the body was read
    assert "/api/plans" not in upstream.paths  # and nothing reached the service


async def test_an_upload_streamed_past_the_evidence_limit_is_refused_and_nothing_stored(
    system: System, gateway: httpx.AsyncClient
) -> None:
    assignment = await assignment_of_vinh_son(system)
    body, headers = multipart(4 * MIB)
    who = officer(VINH_SON)
    answer = await gateway.post(
        f"/api/assignments/{assignment['id']}/evidence", content=body, headers={**headers, **who.headers()}
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["detail"][0]["field"] == "file" and "tệp quá lớn: tối đa" in answer.json()["message"]
    assert not body.finished and body.taken <= EVIDENCE_MAX + 64 * KIB + 2 * body.chunk
    assert await stored_evidence(system, assignment) == []

    # the same straight to the tasks service (a gateway bypassed): cut there as well
    direct, headers = multipart(4 * MIB)
    answer = await system.as_(who).post(
        f"/api/assignments/{assignment['id']}/evidence", content=direct, headers=headers
    )
    assert answer.status_code == 413, answer.text
    assert not direct.finished and direct.taken <= EVIDENCE_MAX + 64 * KIB + 2 * direct.chunk
    assert await stored_evidence(system, assignment) == []

    # a file within the limit, streamed the same way, is taken: the limit is the route's, not 2 MB
    small, headers = multipart(EVIDENCE_MAX - len(PDF) - KIB)
    taken = await gateway.post(
        f"/api/assignments/{assignment['id']}/evidence", content=small, headers={**headers, **who.headers()}
    )
    assert taken.status_code == 201, taken.text
    assert len(await stored_evidence(system, assignment)) == 1


async def test_a_downloaded_file_comes_back_whole_through_the_gateway(
    system: System, gateway: httpx.AsyncClient
) -> None:
    assignment = await assignment_of_vinh_son(system)
    who = officer(VINH_SON)
    data = PDF + bytes(range(256)) * 512
    sent = await gateway.post(
        f"/api/assignments/{assignment['id']}/evidence",
        files={"file": ("bao-cao.pdf", data, "application/pdf")},
        headers=who.headers(),
    )
    assert sent.status_code == 201, sent.text
    got = await gateway.get(sent.json()["url"], headers=who.headers())
    assert got.status_code == 200, got.text
    assert got.content == data and got.headers["content-length"] == str(len(data))


# ---- trusted hosts ---------------------------------------------------------------------------


async def test_a_host_name_that_is_not_the_systems_is_refused(gateway: httpx.AsyncClient, upstream: Upstream) -> None:
    rebound = await gateway.get("/api/plans", headers={"host": "rebind.attacker.example"})
    assert rebound.status_code == 400, rebound.text
    assert rebound.json()["detail"][0]["field"] == "Host"
    assert "rebind.attacker.example" in rebound.json()["message"]
    page = await gateway.get("/login", headers={"host": "rebind.attacker.example:8000"})
    assert page.status_code == 400
    assert upstream.paths == []
    # the system's own name and loopback are served
    assert (await gateway.get("/login")).status_code == 200
    assert (await gateway.get("/login", headers={"host": "127.0.0.1:8000"})).status_code == 200


# ---- CSRF ------------------------------------------------------------------------------------


async def test_a_body_less_post_with_the_cookie_from_another_site_is_refused_and_changes_nothing(
    system: System, gateway: httpx.AsyncClient
) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    await logged_in(system, gateway, "lanhdao.tinh", "52", "head")
    plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    forgeries = [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},  # another origin of the same site (a sibling subdomain)
        {"origin": "https://attacker.example"},
        {"referer": "https://attacker.example/trang.html"},  # an older browser: no Origin, a Referer
    ]
    for headers in forgeries:
        forged = await gateway.post(f"/api/plans/{plan_id}/close", headers=headers)
        assert forged.status_code == 403, (headers, forged.text)
        assert "CSRF" in forged.json()["message"]
        assert (await system.get(f"/api/plans/{plan_id}")).json()["status"] == "issued"

    # the same from the system's own page is done (the cookie is good)
    own = await gateway.post(f"/api/plans/{plan_id}/close", headers={"sec-fetch-site": "same-origin"})
    assert own.status_code == 200, own.text
    assert (await system.get(f"/api/plans/{plan_id}")).json()["status"] == "closed"


async def test_a_multipart_upload_with_the_cookie_from_another_site_is_refused_and_stores_nothing(
    system: System, gateway: httpx.AsyncClient
) -> None:
    assignment = await assignment_of_vinh_son(system)
    await logged_in(system, gateway, "canbo.vinhson", "21787", "officer")
    url = f"/api/assignments/{assignment['id']}/evidence"
    files = {"file": ("bao-cao.pdf", PDF, "application/pdf")}
    for headers in ({"sec-fetch-site": "cross-site"}, {"referer": "http://attacker.example/"}):
        forged = await gateway.post(url, files=files, headers=headers)
        assert forged.status_code == 403, (headers, forged.text)
        assert await stored_evidence(system, assignment) == []

    # a script with a bearer token and no cookie is not a browser's forgery: it works
    gateway.cookies.clear()
    script = await gateway.post(url, files=files, headers={**officer(VINH_SON).headers(), "referer": "x"})
    assert script.status_code == 201, script.text


class Stalling(Stream):
    """A body that sends its first chunk and then nothing for `pause` seconds (a slowloris)."""

    def __init__(self, total: int, *, pause: float, **kwargs: Any) -> None:
        super().__init__(total, **kwargs)
        self.pause = pause

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.taken += len(self.head)
        yield self.head
        await asyncio.sleep(self.pause)
        self.taken += self.total
        yield b"\x00" * self.total
        yield self.tail
        self.finished = True


@pytest.fixture
async def impatient(system: System, upstream: Upstream) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with a body idle time of 0.2 s."""
    async with gateway_of(system, upstream, body_idle_seconds=0.2) as http:
        yield http


async def test_a_sender_that_stops_sending_is_cut_and_nothing_is_stored(
    system: System, impatient: httpx.AsyncClient, upstream: Upstream
) -> None:
    """A slow client holds no connection to a service: an ordinary body is read whole at the
    gateway first (it never reaches the service), an upload is cut when it stalls."""
    assignment = await assignment_of_vinh_son(system)
    stalled = Stalling(100, pause=2.0, head=b'{"number": "1/KH-UBND", ')
    answer = await impatient.post("/api/plans", content=stalled, headers={"content-type": "application/json"})
    assert answer.status_code == 408, answer.text
    assert answer.json()["detail"][0]["field"] == "body" and "quá chậm" in answer.json()["message"]
    assert "/api/plans" not in upstream.paths  # the service never saw the stalled body
    assert len((await system.get("/api/plans")).json()["items"]) == 1  # only the fixture's plan

    body, headers = multipart(10 * KIB)
    upload = Stalling(10 * KIB, pause=2.0, head=body.head, tail=body.tail)
    who = officer(VINH_SON)
    answer = await impatient.post(
        f"/api/assignments/{assignment['id']}/evidence", content=upload, headers={**headers, **who.headers()}
    )
    assert answer.status_code == 408, answer.text
    assert await stored_evidence(system, assignment) == []
