"""The two outside channels, each a real protocol: email over SMTP and a signed webhook.

A send either returns a short description of what the peer answered, or raises DeliveryError,
which says whether trying again can help (a timeout, a 5xx, a 4xx from SMTP) or not (a 4xx from
the receiver, a mailbox that does not exist).

Mail goes over `MailSession`s: one SMTP connection carries mail after mail (the message itself is
written by mail.py), so a burst of reminders does not pay a connection, an EHLO and a login per
message.

Webhook signature: `X-CCHC-Signature: sha256=<hex>` where hex = HMAC-SHA256(secret,
f"{X-CCHC-Timestamp}." + raw body); receivers reject old timestamps and compare in constant time.
`Idempotency-Key` is stable across retries and re-drives: a receiver that saw it already must
not act twice.

A webhook goes only where destinations.py allows, to the address it checked, and never follows a
redirect. What is recorded of a failure is a neutral category (NOT_ALLOWED, UNREACHABLE,
TIMED_OUT, the receiver's HTTP status): no address, no system error, nothing that tells a closed
port from an open one; the detail goes to the server log.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import socket
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
import httpx

from services.notify import destinations
from shared.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-CCHC-Signature"
TIMESTAMP_HEADER = "X-CCHC-Timestamp"
KEY_HEADER = "Idempotency-Key"
RETRYABLE_HTTP = {408, 425, 429}
NOT_ALLOWED = "không gửi được: địa chỉ không được phép"
UNREACHABLE = "không kết nối được"
TIMED_OUT = "hết thời gian chờ"
MAILS_PER_SESSION = 100


class DeliveryError(Exception):
    """`answered`: the peer answered (its time may be recorded); otherwise nothing of how long
    trying took is kept, which would tell a closed port from a silent one."""

    def __init__(self, detail: str, *, permanent: bool, answered: bool = False) -> None:
        super().__init__(detail)
        self.permanent = permanent
        self.answered = answered


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _site(url: str) -> str:
    """What the log may say of a webhook URL: scheme and host, never the path or query (chat
    services put the receiver's secret there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}"


def webhook_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


async def send_webhook(
    client: httpx.AsyncClient, *, url: str, secret: str, body: bytes, key: str, kind: str, settings: Settings
) -> str:
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        KEY_HEADER: key,
        "X-CCHC-Kind": kind,
        "User-Agent": "cchc-notify/1",
    }
    limit, received = settings.webhook_max_response_bytes, 0
    try:
        async with asyncio.timeout(settings.webhook_timeout_seconds * 2):  # a trickling receiver too
            to = await destinations.vet(url, settings, wait_seconds=settings.webhook_timeout_seconds)
            headers["Host"] = to.host_header
            async with client.stream(
                "POST",
                to.url,
                content=body,
                headers=headers,
                follow_redirects=False,
                extensions={"sni_hostname": to.server_name} if to.server_name else {},
            ) as response:
                async for chunk in response.aiter_raw():
                    received += len(chunk)
                    if received > limit:
                        break  # the answer does not matter beyond its status; stop reading
                status = response.status_code
    except destinations.Refused as exc:
        log.warning("notify: webhook not sent, destination refused: %s", exc)
        raise DeliveryError(NOT_ALLOWED, permanent=True) from None
    except (TimeoutError, httpx.TimeoutException):
        log.info("notify: webhook to %s timed out", _site(url))
        raise DeliveryError(f"{TIMED_OUT} ({settings.webhook_timeout_seconds:g} s)", permanent=False) from None
    except (destinations.Unresolved, httpx.HTTPError) as exc:
        # the exception's text can hold the whole URL, whose path often is the receiver's secret
        log.info("notify: webhook to %s not sent: %s", _site(url), type(exc).__name__)
        raise DeliveryError(UNREACHABLE, permanent=False) from None
    detail = f"máy nhận trả lời HTTP {status}" + (
        f", phản hồi dài quá {limit} byte, bỏ qua phần còn lại" if received > limit else ""
    )
    if 200 <= status < 300:
        return detail
    raise DeliveryError(detail, permanent=not (status >= 500 or status in RETRYABLE_HTTP), answered=True)


class MailSession:
    """One SMTP connection, opened when the first mail needs it and kept for the next ones (at
    most MAILS_PER_SESSION, then a new one: relays limit messages per connection). Closed after a
    failure that leaves its state unknown; the next send opens a new one.

    `send` raises DeliveryError as a single send would; `Unreachable` (a DeliveryError) when the
    session could not be opened at all: nothing was sent."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.smtp: aiosmtplib.SMTP | None = None
        self.sent = 0  # over this connection
        self.connections = 0

    @property
    def open(self) -> bool:
        return self.smtp is not None and self.smtp.is_connected

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        if not s.smtp_host:
            raise Unreachable("chưa cấu hình máy chủ thư (CCHC_SMTP_HOST)", permanent=True)
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            use_tls=s.smtp_ssl,
            start_tls=s.smtp_starttls if not s.smtp_ssl else False,
            timeout=s.smtp_timeout_seconds,
            local_hostname=await local_hostname(),
            tls_context=tls_context() if s.smtp_ssl or s.smtp_starttls else None,
        )
        try:
            await smtp.connect()
        except aiosmtplib.SMTPResponseException as exc:  # refused at the greeting, EHLO or login
            raise Unreachable(f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500, answered=True) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.info("notify: mail server %s:%s: %r", s.smtp_host, s.smtp_port, exc)
            raise Unreachable(f"không gửi được thư: {UNREACHABLE} máy chủ thư", permanent=False) from None
        self.connections += 1
        self.sent = 0
        return smtp

    async def send(self, sender: str, recipient: str, message: bytes, *, utf8: bool = False) -> str:
        if self.smtp is not None and (not self.smtp.is_connected or self.sent >= MAILS_PER_SESSION):
            await self.close()
        s, connecting = self.settings, self.smtp is None
        try:
            async with asyncio.timeout(2 * s.smtp_timeout_seconds):  # all of it; each command has its own, too
                if self.smtp is None:
                    self.smtp = await self._connect()
                connecting = False
                return await self._send(self.smtp, sender, recipient, message, utf8=utf8)
        except TimeoutError:
            log.info(
                "notify: mail server %s:%s: no answer within %g s", s.smtp_host, s.smtp_port, 2 * s.smtp_timeout_seconds
            )
            self.drop()
            failure = Unreachable if connecting else DeliveryError
            raise failure(f"không gửi được thư: {UNREACHABLE} máy chủ thư", permanent=False) from None

    async def _send(self, smtp: aiosmtplib.SMTP, sender: str, recipient: str, message: bytes, *, utf8: bool) -> str:
        s = self.settings
        if utf8 and not smtp.supports_extension("smtputf8"):
            raise DeliveryError("máy chủ thư không nhận địa chỉ có dấu (thiếu SMTPUTF8)", permanent=True)
        try:
            _, response = await smtp.sendmail(sender, [recipient], message, mail_options=["SMTPUTF8"] if utf8 else [])
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise DeliveryError(
                f"máy chủ thư từ chối người nhận: {codes}", permanent=all(c >= 500 for c in codes), answered=True
            ) from None
        except aiosmtplib.SMTPResponseException as exc:  # aiosmtplib has reset the envelope (RSET)
            if exc.code == 421:  # the server is closing the session
                self.drop()
            raise DeliveryError(f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500, answered=True) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # cut off mid-mail: whether the server kept it is unknown; it is sent again (same Message-ID)
            log.info("notify: mail server %s:%s: %r", s.smtp_host, s.smtp_port, exc)
            self.drop()
            raise DeliveryError(f"không gửi được thư: {UNREACHABLE} máy chủ thư", permanent=False) from None
        self.sent += 1
        return f"SMTP {response}"

    def drop(self) -> None:
        """Close the connection without a word (its state is unknown)."""
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None

    async def close(self) -> None:
        """QUIT politely if the session is open, else just drop it."""
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        if smtp.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await smtp.quit(timeout=min(self.settings.smtp_timeout_seconds, 5.0))
        smtp.close()


class Unreachable(DeliveryError):
    """The mail server could not be reached, or refused the session (greeting, TLS, login)."""


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The certificate-checking TLS context of every session (aiosmtplib would build one, reading
    the system's CA certificates, for every connection)."""
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH)


_local_hostname: str | None = None


async def local_hostname() -> str:
    """This host's name for EHLO, looked up once (aiosmtplib would ask the resolver, in a
    thread, at every connection)."""
    global _local_hostname
    if _local_hostname is None:
        _local_hostname = await asyncio.to_thread(socket.getfqdn)
    return _local_hostname
