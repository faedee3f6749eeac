"""Webhooks cannot be turned against the deployment (server-side request forgery): a contact's
URL into the system's own network is refused when it is added, by field, in Vietnamese, with
nothing stored; at send time the destination is resolved again and checked, so a name that
resolves inside by then (DNS rebinding) or a contact stored before these rules is not contacted —
real HTTP receivers on loopback count the requests that reach them —; the request goes to the
address checked, redirects are not followed, and what is recorded of a refusal or a failure is a
neutral category, never an address, a system error or a time that maps the network.

The one thing replaced is the resolver (`destinations.lookup`), to make a name resolve first
outside then inside without a DNS server of our own; every request is real."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import text as sql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.notify import channels, destinations
from services.notify.destinations import Address, Unresolved
from shared.db import plain_url
from shared.servers import free_port
from shared.settings import Settings
from tests.integration.conftest import System
from tests.integration.plans_data import ONE_COMMUNE_PLAN

pytestmark = pytest.mark.integration

NOT_ALLOWED = "không gửi được: địa chỉ không được phép"
# what the person adding the contact reads, word for word
REFUSED_HTTP = (
    "địa chỉ webhook phải dùng https; http chỉ dùng được cho máy nhận trong danh sách cho phép của "
    "hệ thống (CCHC_WEBHOOK_ALLOW_HOSTS)"
)
REFUSED_INSIDE = (
    "địa chỉ webhook không được phép: máy nhận thuộc mạng nội bộ, là máy của chính hệ thống hoặc là "
    "địa chỉ dành riêng; cầu nối đặt trong mạng nội bộ cần được quản trị hệ thống đưa vào danh sách "
    "cho phép (CCHC_WEBHOOK_ALLOW_HOSTS)"
)
PUBLIC = "93.184.215.14"


@dataclass
class Listener:
    """A real HTTP server on loopback that counts what reaches it; answers 200, or redirects."""

    port: int = field(default_factory=free_port)
    seen: list[dict[str, str]] = field(default_factory=list)
    redirect_to: str | None = None

    async def endpoint(self, request: Request) -> Response:
        await request.body()
        self.seen.append(dict(request.headers))
        if self.redirect_to:
            return Response(status_code=302, headers={"Location": self.redirect_to})
        return Response("ok")


@contextlib.asynccontextmanager
async def serving(app: Any, port: int, **tls: str) -> AsyncIterator[None]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **tls)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 — uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def listeners() -> AsyncIterator[Callable[[], Any]]:
    async with contextlib.AsyncExitStack() as stack:

        async def start() -> Listener:
            peer = Listener()
            app = Starlette(routes=[Route("/{path:path}", peer.endpoint, methods=["POST", "GET"])])
            await stack.enter_async_context(serving(app, peer.port))
            return peer

        yield start


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names the test controls (`name → address`); every other name as the system resolves it."""
    names: dict[str, str] = {}
    real = destinations.lookup

    async def lookup(host: str, port: int) -> list[Address]:
        if host in names:
            return [ipaddress.ip_address(names[host])]
        if host.endswith(".test"):
            raise Unresolved(host)
        return await real(host, port)

    monkeypatch.setattr(destinations, "lookup", lookup)
    return names


async def restart_notify(system: System, allow: list[str] | None = None) -> None:
    """Notify with these bridges allowed, and quick retries: an attempt that would be retried
    shows in the record within the test."""
    s = system.settings
    s.webhook_allow_hosts, s.delivery_backoff_seconds, s.delivery_max_attempts = allow or [], 0.2, 2
    await system.stop("notify")
    await system.start("notify")


async def draft(system: System) -> str:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    made = await system.post("/api/plans", json=ONE_COMMUNE_PLAN)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def finished_deliveries(system: System, count: int) -> list[dict[str, Any]]:
    """The deliveries once `count` of them are sent or failed for good."""

    async def finished() -> list[dict[str, Any]] | None:
        found = [
            d
            for status in ("failed", "sent")
            for d in (await system.get("/api/notifications/deliveries", params={"status": status})).json()["items"]
        ]
        return found if len(found) >= count else None

    found: list[dict[str, Any]] = await system.eventually(finished)
    await system.settled()
    return found


async def add_contact(system: System, url: str, name: str = "Cầu nối") -> Any:
    return await system.post(
        "/api/notifications/contacts", json={"unit": "21787", "name": name, "webhook_url": url, "channels": ["webhook"]}
    )


async def test_webhook_urls_into_the_deployment_are_refused_by_field_and_nothing_is_stored(
    system: System, dns: dict[str, str]
) -> None:
    plan_id = await draft(system)
    dns["bridge.rebound.test"] = "10.0.0.7"
    refused_inside = [
        "http://127.0.0.1:5432",
        "http://postgres:5432",
        "http://2130706433/",
        "http://[::1]:8222",
        "http://169.254.169.254",
        f"http://plans:8000/api/plans/{plan_id}/close",
        "https://127.0.0.1:5432",
        "https://0x7f.1/",
        "https://[::ffff:127.0.0.1]/",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/",
        "https://192.168.1.1/",
        "https://[fd00::1]/",
        "https://localhost:8000/",
        f"https://plans:8000/api/plans/{plan_id}/close",
        "https://nats:4222/",
        "https://bridge.rebound.test/hook",  # a name that resolves inside
    ]
    for url in refused_inside:
        refused = await add_contact(system, url)
        assert refused.status_code == 422, (url, refused.text)
        assert refused.json()["detail"] == [{"field": "webhook_url", "msg": REFUSED_INSIDE}], url
    plain_http = await add_contact(system, "http://zalo-bridge.example.vn/hook")
    assert plain_http.status_code == 422, plain_http.text
    assert plain_http.json()["detail"] == [{"field": "webhook_url", "msg": REFUSED_HTTP}]
    async with system.services["notify"].sessions() as session:
        assert (await session.execute(sql("SELECT count(*) FROM notify.contacts"))).scalar_one() == 0
    assert (await system.get(f"/api/plans/{plan_id}")).json()["status"] == "draft"


async def test_a_name_that_resolves_inside_at_send_time_is_not_contacted_and_the_record_says_only_why(
    system: System, dns: dict[str, str], listeners: Callable[[], Any]
) -> None:
    inside = await listeners()
    await restart_notify(system)
    dns["bridge.rebinding.test"] = PUBLIC  # outside when the contact is added …
    added = await add_contact(system, f"https://bridge.rebinding.test:{inside.port}/hook")
    assert added.status_code == 201, added.text
    dns["bridge.rebinding.test"] = "127.0.0.1"  # … inside when the message leaves
    plan_id = await draft(system)
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    failed = await finished_deliveries(system, 4)  # 4 quarters, each refused once, for good
    assert inside.seen == []
    assert {(d["status"], d["last_error"], d["attempts"]) for d in failed} == {("failed", NOT_ALLOWED, 1)}
    detail = (await system.get(f"/api/notifications/deliveries/{failed[0]['id']}")).json()
    assert [(a["ok"], a["detail"], a["duration_ms"]) for a in detail["attempts_log"]] == [(False, NOT_ALLOWED, 0)]
    async with system.services["notify"].sessions() as session:
        bodies = (
            await session.execute(sql("SELECT body FROM notify.outbox WHERE subject LIKE '%notification.failed%'"))
        ).scalars()
        errors = {json.loads(b)["payload"]["error"] for b in bodies}
    assert errors == {NOT_ALLOWED}


async def test_contacts_stored_before_the_rules_cannot_close_a_plan_or_reach_loopback(
    system: System, listeners: Callable[[], Any]
) -> None:
    """Stored as an older version accepted them: straight into the table. One points at the plans
    service's own route that closes a plan (served on a real port, counting what reaches it),
    one at a name that resolves to loopback."""
    inside = await listeners()
    await restart_notify(system)
    plan_id = await draft(system)
    reached: list[str] = []
    plans_app = system.apps["plans"]

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            reached.append(scope["path"])
        await plans_app(scope, receive, send)

    plans_port = free_port()
    admin = await asyncpg.connect(plain_url(system.settings.database_url or ""))
    try:
        for url in (
            f"http://127.0.0.1:{plans_port}/api/plans/{plan_id}/close",
            f"http://localhost:{inside.port}/hook",
        ):
            await admin.execute(
                "INSERT INTO notify.contacts (id, unit_code, name, webhook_url, channels)"
                " VALUES ($1, '21787', 'Cầu nối cũ', $2, '[\"webhook\"]')",
                uuid.uuid4(),
                url,
            )
    finally:
        await admin.close()
    async with serving(counted, plans_port):
        assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200
        failed = await finished_deliveries(system, 8)  # 4 quarters × 2 contacts
    assert reached == [] and inside.seen == []
    assert (await system.get(f"/api/plans/{plan_id}")).json()["status"] == "issued"
    assert {(d["status"], d["last_error"]) for d in failed} == {("failed", NOT_ALLOWED)}


async def test_an_allow_listed_bridge_is_reached_at_the_address_checked_and_its_redirect_is_not_followed(
    system: System, dns: dict[str, str], listeners: Callable[[], Any]
) -> None:
    inside, bridge = await listeners(), await listeners()
    bridge.redirect_to = f"http://127.0.0.1:{inside.port}/hook"
    dns["zalo-bridge.ubnd.test"] = "127.0.0.1"
    await restart_notify(system, ["zalo-bridge.ubnd.test"])
    added = await add_contact(system, f"http://zalo-bridge.ubnd.test:{bridge.port}/hook")
    assert added.status_code == 201, added.text
    refused = await add_contact(system, f"http://127.0.0.1:{inside.port}/hook")  # the allow-list names a bridge
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "webhook_url"
    plan_id = await draft(system)
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    failed = await finished_deliveries(system, 4)
    assert len(bridge.seen) == 4 and inside.seen == []
    assert {h["host"] for h in bridge.seen} == {f"zalo-bridge.ubnd.test:{bridge.port}"}  # the name, not the address
    assert {(d["last_error"], d["attempts"]) for d in failed} == {("máy nhận trả lời HTTP 302", 1)}


def certificate(folder: Path, name: str) -> tuple[str, str]:
    """A self-signed certificate for `name` (and its key), as files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


async def test_https_to_the_pinned_address_checks_the_certificate_against_the_name(
    tmp_path: Path, dns: dict[str, str]
) -> None:
    """The connection goes to the address checked, and TLS still proves it is the name's: the
    certificate of bridge.tls.test is accepted for it and refused for another name pinned to the
    same address."""
    peer = Listener()
    cert_file, key_file = certificate(tmp_path, "bridge.tls.test")
    app = Starlette(routes=[Route("/{path:path}", peer.endpoint, methods=["POST"])])
    dns.update({"bridge.tls.test": "127.0.0.1", "other.tls.test": "127.0.0.1"})
    settings = Settings(webhook_allow_hosts=["bridge.tls.test", "other.tls.test"], webhook_timeout_seconds=5)
    trust = ssl.create_default_context(cafile=cert_file)

    async def send(name: str) -> str:
        async with httpx.AsyncClient(verify=trust, follow_redirects=False, trust_env=False) as client:
            return await channels.send_webhook(
                client,
                url=f"https://{name}:{peer.port}/hook",
                secret="s" * 32,
                body=b"{}",
                key="k",
                kind="assigned",
                settings=settings,
            )

    async with serving(app, peer.port, ssl_certfile=cert_file, ssl_keyfile=key_file):
        assert await send("bridge.tls.test") == "máy nhận trả lời HTTP 200"
        with pytest.raises(channels.DeliveryError) as failed:
            await send("other.tls.test")
    assert str(failed.value) == channels.UNREACHABLE and not failed.value.answered
    assert [h["host"] for h in peer.seen] == [f"bridge.tls.test:{peer.port}"]
