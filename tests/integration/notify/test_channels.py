"""Notifications reach people over real protocols: an SMTP server (aiosmtpd) and an HTTP
receiver (uvicorn) run in this process; messages are read from them, signatures verified."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import uvicorn
from sqlalchemy import text as sql
from typer.testing import CliRunner, Result

from cchc.cli import app as cchc_app
from shared.servers import free_port
from tests.integration.conftest import OPERATOR, Identity, System
from tests.integration.notify.peers import Mailbox, Receiver, configure
from tests.integration.plans_data import ONE_COMMUNE_PLAN

pytestmark = pytest.mark.integration


async def issue(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
    await system.post(f"/api/plans/{plan_id}/issue")


@contextlib.asynccontextmanager
async def http_port(system: System, name: str) -> AsyncIterator[str]:
    """Serve a running service over a real port (its lifespan is already running)."""
    port = free_port()
    app = system.apps[name]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 — uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def cli(*args: str, as_: Identity = OPERATOR) -> Result:
    """The `cchc` command as `as_` (its token in CCHC_TOKEN, as an operator's script would hold
    it), run in a thread: it makes blocking HTTP calls to this event loop."""
    return await asyncio.to_thread(CliRunner().invoke, cchc_app, list(args), env={"CCHC_TOKEN": as_.token()})


def verify(headers: dict[str, str], body: bytes, secret: str) -> bool:
    timestamp = headers["x-cchc-timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-cchc-signature"]) and abs(time.time() - int(timestamp)) < 300


async def deliveries(system: System, **params: str) -> list[dict]:
    return (await system.get("/api/notifications/deliveries", params=params)).json()["items"]


async def test_email_and_signed_webhook_reach_their_peers_once(
    system: System, mailbox: tuple[Mailbox, int], receiver: Receiver
) -> None:
    box, port = mailbox
    await configure(system, port)
    by_mail = await system.post(
        "/api/notifications/contacts",
        json={"unit": "21787", "name": "Nguyễn Văn Bình", "email": "binh@vinhson.gialai.gov.vn", "channels": ["email"]},
    )
    by_hook = await system.post(
        "/api/notifications/contacts",
        json={"unit": "21787", "name": "Cầu nối Zalo OA", "webhook_url": receiver.url, "channels": ["webhook"]},
    )
    assert by_mail.status_code == 201 and by_hook.status_code == 201, (by_mail.text, by_hook.text)
    secret = by_hook.json()["webhook_secret"]
    async with system.services["notify"].sessions() as session:  # at rest, only sealed
        stored = (await session.execute(sql("SELECT webhook_secret FROM notify.contacts"))).scalars().all()
    assert [s for s in stored if s] and all(s.startswith("sealed:") and secret not in s for s in stored if s)
    assert "webhook_secret" not in (await system.get("/api/notifications/contacts", params={"unit": "21787"})).text
    await issue(system)

    async def all_sent() -> list | None:  # 4 quarters × 2 contacts
        found = await deliveries(system, status="sent")
        return found if len(found) == 8 else None

    await system.eventually(all_sent)
    await system.settled()  # nothing more arrives
    assert len(box.messages) == 4 and len(receiver.received) == 4
    mail = box.messages[0]
    assert mail["To"].addresses[0].display_name == "Nguyễn Văn Bình"
    assert str(mail["Subject"]).startswith("Nhiệm vụ mới: ")
    text = mail.get_content()
    assert "Kính gửi Nguyễn Văn Bình" in text and "Xã Vĩnh Sơn" in text
    assert re.search(r"hạn báo cáo: \d{2}/\d{2}/2026", text), text  # dd/mm/yyyy
    # the link opens the assignment's page of the web app, as the inbox item's does (not the API's JSON)
    page = re.search(r"Xem chi tiết: (\S+)", text)
    assert page and re.fullmatch(r"https?://[^/]+/assignments/[0-9a-f-]{36}", page.group(1)), text
    inbox = (await system.get("/api/notifications", params={"unit": "21787", "kind": "assigned"})).json()["items"]
    assert page.group(1) in {item["link"] for item in inbox}
    assert all("/api/" not in item["link"] for item in inbox)
    assert len({m["Message-ID"] for m in box.messages}) == 4

    headers, body = receiver.received[0]
    assert verify(headers, body, secret)
    assert not verify(headers, body + b" ", secret)  # the signature covers the raw body
    payload = json.loads(body)
    assert payload["kind"] == "assigned" and payload["unit"]["code"] == "21787"
    assert headers["idempotency-key"] == payload["id"]
    assert len({h["idempotency-key"] for h, _ in receiver.received}) == 4


async def test_a_failing_webhook_is_retried_then_dead_lettered_and_email_takes_over(
    system: System, mailbox: tuple[Mailbox, int], receiver: Receiver
) -> None:
    box, port = mailbox
    await configure(system, port)
    receiver.mode = "fail"
    contact = await system.post(
        "/api/notifications/contacts",
        json={
            "unit": "21787",
            "name": "Văn phòng UBND xã",
            "webhook_url": receiver.url,
            "email": "vanphong@vinhson.gialai.gov.vn",
            "channels": ["webhook", "email"],
        },
    )
    assert contact.status_code == 201, contact.text
    await issue(system)

    async def dead() -> list | None:
        found = await deliveries(system, status="failed")
        return found if len(found) == 4 else None

    failed = await system.eventually(dead)
    assert all(d["channel"] == "webhook" and d["attempts"] == 3 and "HTTP 500" in d["last_error"] for d in failed)
    detail = (await system.get(f"/api/notifications/deliveries/{failed[0]['id']}")).json()
    assert [a["ok"] for a in detail["attempts_log"]] == [False, False, False]

    async def mailed() -> bool:
        return len(box.messages) == 4

    await system.eventually(mailed)  # the next channel in the contact's order
    assert len(receiver.received) == 12  # 4 notifications × 3 attempts, no more

    # The operator lists the dead letters and, once the bridge is fixed, re-drives them with the
    # CLI (over HTTP, as on a server): same idempotency keys, sent once each.
    async with http_port(system, "notify") as url:
        listed = await cli("deliveries", "failed", "--url", url)
        assert listed.exit_code == 0 and all(d["id"] in listed.output for d in failed), listed.output
        assert "Tổng: 4 lần gửi hỏng" in listed.output
        bad = await cli("deliveries", "redrive", "không-phải-mã", "--url", url)
        assert bad.exit_code == 1 and "mã lần gửi không hợp lệ" in bad.output
        unknown = await cli("deliveries", "redrive", str(uuid.uuid4()), "--url", url)
        assert unknown.exit_code == 1 and "404" in unknown.output
        receiver.mode = "ok"
        redriven = await cli("deliveries", "redrive", "--all", "--url", url)
        assert redriven.exit_code == 0 and "Đã đưa 4 lần gửi" in redriven.output, redriven.output

    async def resent() -> bool:
        return len(await deliveries(system, status="sent")) == 8

    await system.eventually(resent)
    keys = [h["idempotency-key"] for h, _ in receiver.received]
    assert set(keys[-4:]) == {d["idempotency_key"] for d in failed}
    again = await system.post("/api/notifications/deliveries/redrive", json={"ids": [failed[0]["id"]]})
    assert again.status_code == 409  # sent deliveries are not sent twice


async def test_a_hanging_or_oversized_receiver_does_not_hold_up_other_deliveries(
    system: System, mailbox: tuple[Mailbox, int], receiver: Receiver
) -> None:
    box, port = mailbox
    await configure(system, port)
    receiver.mode = "hang"
    await system.post(
        "/api/notifications/contacts",
        json={"unit": "21787", "name": "Cầu nối treo", "webhook_url": receiver.url, "channels": ["webhook"]},
    )
    await system.post(
        "/api/notifications/contacts",
        json={"unit": "21787", "name": "Chị Hoa", "email": "hoa@vinhson.gialai.gov.vn", "channels": ["email"]},
    )
    await issue(system)

    async def mailed() -> bool:
        return len(box.messages) == 4

    await system.eventually(mailed)

    async def timed_out() -> list | None:
        found = await deliveries(system, status="failed")
        return found if len(found) == 4 else None

    failed = await system.eventually(timed_out)
    assert all("hết thời gian chờ" in d["last_error"] for d in failed)

    receiver.mode = "huge"
    await system.post("/api/notifications/deliveries/redrive", json={"all": True})

    async def sent() -> list | None:
        found = [d for d in await deliveries(system, status="sent") if d["channel"] == "webhook"]
        return found if len(found) == 4 else None

    await system.eventually(sent)


async def test_contacts_that_cannot_work_are_refused_by_field(system: System) -> None:
    cases = [
        ({"email": "không-phải-email", "channels": ["email"]}, "email"),
        ({"webhook_url": "ftp://zalo.example/hook", "channels": ["webhook"]}, "webhook_url"),
        ({"webhook_url": "zalo-bridge", "channels": ["webhook"]}, "webhook_url"),
        ({"channels": ["email"]}, "channels[0]"),
        ({"email": "a@b.vn", "channels": ["sms"]}, "channels[0]"),
        ({"email": "a@b.vn", "channels": []}, "channels"),
    ]
    for change, field_name in cases:
        refused = await system.post("/api/notifications/contacts", json={"unit": "21787", "name": "X", **change})
        assert refused.status_code == 422, (change, refused.text)
        assert refused.json()["detail"][0]["field"] == field_name, (change, refused.json())
    assert (await system.get("/api/notifications/contacts", params={"unit": "21787"})).json()["count"] == 0
