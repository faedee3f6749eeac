"""The peers notify talks to in the tests: an SMTP server's mailbox (aiosmtpd) and an HTTP
receiver (uvicorn) whose answer the test sets; and pointing notify at them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from tests.integration.conftest import System


class Mailbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 — aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


@dataclass
class Receiver:
    """An HTTP receiver whose behaviour the test sets: answer, fail with a status, or hang."""

    mode: str = "ok"  # ok | fail | hang | huge
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        self.received.append((dict(request.headers), body))
        if self.mode == "hang":
            await asyncio.sleep(3600)
        if self.mode == "fail":
            return Response("lỗi", status_code=500)
        if self.mode == "huge":
            return Response(b"x" * 5_000_000)
        return Response("ok")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


async def configure(system: System, smtp_port: int) -> None:
    s = system.settings
    s.smtp_host, s.smtp_port, s.smtp_starttls = "127.0.0.1", smtp_port, False
    s.delivery_backoff_seconds, s.delivery_max_attempts, s.webhook_timeout_seconds = 0.2, 3, 1.0
    # the receiver listens on loopback, as an on-premise bridge on the allow-list would (the
    # default refuses loopback and http: tests/integration/hostile/test_webhook_ssrf.py)
    s.webhook_allow_hosts = ["127.0.0.1"]
    await system.stop("notify")
    await system.start("notify")
