"""Mail goes out over a few SMTP sessions, each carrying many messages, to a real SMTP server
(aiosmtpd) in this process: every contact gets each notice once, with its own Message-ID; a
session cut off mid-batch costs at most the one message in flight, sent again with the same
Message-ID; Vietnamese subjects and names arrive exactly as written."""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from shared.servers import free_port
from tests.integration.conftest import System
from tests.integration.notify.peers import configure
from tests.integration.plans_data import ONE_COMMUNE_PLAN

pytestmark = pytest.mark.integration

UNIT = "21787"  # Xã Vĩnh Sơn, Gia Lai: the commune ONE_COMMUNE_PLAN assigns, once a quarter
QUARTERS = 4


class Counting:
    """aiosmtpd handler: keeps every message with the connection it came over, refuses the
    recipients in `refuse`; `cut_after`:
    after taking that many messages it drops the connection once instead of answering the
    last one (the client cannot know whether it was kept)."""

    def __init__(self, cut_after: int | None = None, refuse: set[str] | None = None) -> None:
        self.messages: list[tuple[int, bytes]] = []
        self.connections: list[Any] = []  # aiosmtpd makes one session object per connection
        self.cut_after = cut_after
        self.refuse = refuse or set()  # mailboxes that do not exist (550)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 hộp thư không tồn tại"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 — aiosmtpd's name
        if not any(s is session for s in self.connections):
            self.connections.append(session)
        self.messages.append((len(self.connections), envelope.content))
        if self.cut_after is not None and len(self.messages) == self.cut_after:
            self.cut_after = None
            server.transport.abort()  # the message is kept, the 250 never sent
        return "250 OK"

    def parsed(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default) for _, raw in self.messages]  # type: ignore[misc]


@contextlib.contextmanager
def smtp_server(handler: Counting, **options: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


async def contacts(system: System, count: int) -> list[str]:
    emails = [f"can-bo-{i}@vinhson.gialai.gov.vn" for i in range(count)]
    for i, email in enumerate(emails):
        reply = await system.post(
            "/api/notifications/contacts",
            json={"unit": UNIT, "name": f"Cán bộ Nguyễn Thị Ánh {i}", "email": email, "channels": ["email"]},
        )
        assert reply.status_code == 201, reply.text
    return emails


async def issue_and_wait_until_sent(system: System, expected: int) -> list[dict[str, Any]]:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    async def all_sent() -> list[dict[str, Any]] | None:
        found = (await system.get("/api/notifications/deliveries", params={"status": "sent", "limit": "500"})).json()[
            "items"
        ]
        return found if len(found) == expected else None

    sent = await system.eventually(all_sent)
    await system.settled()
    return sent


async def test_many_mails_share_a_few_smtp_sessions_and_each_arrives_once(system: System) -> None:
    handler = Counting()
    with smtp_server(handler) as port:
        system.settings.smtp_sessions = 2
        await configure(system, port)
        emails = await contacts(system, 30)
        sent = await issue_and_wait_until_sent(system, 30 * QUARTERS)

    mails = handler.parsed()
    assert len(mails) == 30 * QUARTERS
    # one connection per mail would be 120; two sessions per round carry them all
    assert len(handler.connections) < len(mails) // 4, len(handler.connections)
    assert max(Counter(connection for connection, _ in handler.messages).values()) > 1
    assert Counter(str(m["To"].addresses[0].addr_spec) for m in mails) == dict.fromkeys(emails, QUARTERS)
    assert len({m["Message-ID"] for m in mails}) == len(mails)
    assert len({m["X-CCHC-Idempotency-Key"] for m in mails}) == len(mails)
    assert all(d["attempts"] == 1 for d in sent)
    names = {m["To"].addresses[0].display_name for m in mails}
    assert names == {f"Cán bộ Nguyễn Thị Ánh {i}" for i in range(30)}
    assert all(str(m["Subject"]).startswith("Nhiệm vụ mới: ") for m in mails)
    assert all("Kính gửi Cán bộ Nguyễn Thị Ánh" in m.get_content() for m in mails)


async def test_a_session_cut_mid_batch_resends_only_the_mail_in_flight_with_its_message_id(system: System) -> None:
    handler = Counting(cut_after=7)
    with smtp_server(handler) as port:
        system.settings.smtp_sessions = 1  # one session: the rest of the batch was queued behind the cut
        await configure(system, port)
        emails = await contacts(system, 10)
        sent = await issue_and_wait_until_sent(system, 10 * QUARTERS)

    mails = handler.parsed()
    ids = Counter(m["Message-ID"] for m in mails)
    assert len(ids) == 10 * QUARTERS  # every notice to every contact
    twice = [message_id for message_id, n in ids.items() if n > 1]
    assert len(twice) == 1 and ids[twice[0]] == 2, ids.most_common(3)  # only the one in flight
    assert mails[6]["Message-ID"] == twice[0]  # the 7th, whose answer never came
    assert Counter(str(m["To"].addresses[0].addr_spec) for m in mails) == {
        **dict.fromkeys(emails, QUARTERS),
        str(mails[6]["To"].addresses[0].addr_spec): QUARTERS + 1,
    }
    assert sorted(d["attempts"] for d in sent) == [1] * (10 * QUARTERS - 1) + [2]
    # the mails queued behind the cut went over a new session
    assert len(handler.connections) >= 2
    after_cut = [connection for connection, _ in handler.messages[7:]]
    assert after_cut and all(c >= 2 for c in after_cut)


async def test_new_deliveries_are_sent_when_committed_not_at_the_next_poll(system: System) -> None:
    handler = Counting(refuse={"can-bo-1@vinhson.gialai.gov.vn"})
    with smtp_server(handler) as port:
        # the worker's timer would first tick in an hour: only the commits can start it
        system.settings.delivery_poll_seconds = system.settings.sweep_interval_seconds = 3600
        await configure(system, port)
        await contacts(system, 2)
        await issue_and_wait_until_sent(system, QUARTERS)  # can-bo-0's; can-bo-1's refused for good (550)
        failed = (await system.get("/api/notifications/deliveries", params={"status": "failed"})).json()["items"]
        assert len(failed) == QUARTERS and all("550" in d["last_error"] for d in failed)

        handler.refuse.clear()  # a re-drive wakes it too
        redrive = await system.post("/api/notifications/deliveries/redrive", json={"ids": [failed[0]["id"]]})
        assert redrive.status_code == 200, redrive.text

        async def resent() -> bool:
            return len(handler.messages) == QUARTERS + 1

        await system.eventually(resent)
    mail = handler.parsed()[-1]
    assert str(mail["To"].addresses[0].addr_spec) == "can-bo-1@vinhson.gialai.gov.vn"
    assert mail["X-CCHC-Idempotency-Key"] == hashlib.sha256(failed[0]["idempotency_key"].encode()).hexdigest()[:40]


async def test_mail_waits_out_a_mail_server_that_is_down_then_goes_once(system: System) -> None:
    handler = Counting()
    port = free_port()  # nothing listens there yet
    system.settings.delivery_max_attempts = 50
    await configure(system, port)
    system.services["notify"].settings.delivery_backoff_seconds = 0.5
    emails = await contacts(system, 3)
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
    assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

    async def refused() -> list[dict[str, Any]] | None:
        found = (await system.get("/api/notifications/deliveries", params={"status": "pending"})).json()["items"]
        return found if len(found) == 3 * QUARTERS and all(d["attempts"] >= 1 for d in found) else None

    waiting = await system.eventually(refused)
    assert all("không kết nối được máy chủ thư" in d["last_error"] for d in waiting)
    assert handler.messages == []
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:

        async def all_sent() -> bool:
            found = (await system.get("/api/notifications/deliveries", params={"status": "sent"})).json()["items"]
            return len(found) == 3 * QUARTERS

        await system.eventually(all_sent)
        await system.settled()
    finally:
        controller.stop()
    mails = handler.parsed()
    assert Counter(str(m["To"].addresses[0].addr_spec) for m in mails) == dict.fromkeys(emails, QUARTERS)
    assert len({m["Message-ID"] for m in mails}) == len(mails)


class Login:
    """aiosmtpd authenticator: one account; counts the logins (one per session)."""

    def __init__(self, user: str, password: str) -> None:
        self.account = LoginPassword(user.encode(), password.encode())
        self.logins = 0

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        self.logins += 1
        return AuthResult(success=data == self.account, handled=False)  # aiosmtpd answers 235 or 535


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # a test server on loopback
async def test_a_login_refused_fails_the_mail_for_good_and_the_password_is_nowhere(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    handler, login = Counting(), Login("cchc", "mật-khẩu-đúng")
    caplog.set_level("DEBUG")
    with smtp_server(handler, authenticator=login, auth_require_tls=False, auth_required=True) as port:
        system.settings.smtp_username, system.settings.smtp_password = "cchc", "mat-khau-sai-9f3k"
        await configure(system, port)
        await contacts(system, 3)
        await system.post("/api/units/load", json={"provinces": ["52"]})
        plan_id = (await system.post("/api/plans", json=ONE_COMMUNE_PLAN)).json()["id"]
        assert (await system.post(f"/api/plans/{plan_id}/issue")).status_code == 200

        async def refused() -> list[dict[str, Any]] | None:
            found = (await system.get("/api/notifications/deliveries", params={"status": "failed"})).json()["items"]
            return found if len(found) == 3 * QUARTERS else None

        failed = await system.eventually(refused)
        assert all(d["last_error"].startswith("SMTP 535") and d["attempts"] == 1 for d in failed), [
            (d["last_error"], d["attempts"]) for d in failed
        ]
        assert handler.messages == []

        system.settings.smtp_password, system.settings.smtp_sessions = "mật-khẩu-đúng", 2
        await configure(system, port)
        login.logins = 0
        await system.post("/api/notifications/deliveries/redrive", json={"all": True})

        async def sent() -> bool:
            return len(handler.messages) == 3 * QUARTERS

        await system.eventually(sent)
    assert login.logins <= 4  # once per session (two at a time), not once for each of the 12 mails
    listed = (await system.get("/api/notifications/deliveries", params={"limit": "100"})).text
    for secret in ("mat-khau-sai-9f3k", "mật-khẩu-đúng"):
        assert secret not in caplog.text and secret not in listed
