"""The two outside channels, each a real protocol: email over SMTP and a signed webhook.

A send either returns a short description of what the peer answered, or raises DeliveryError,
which says whether trying again can help (a timeout, a 5xx, a 4xx from SMTP) or not (a 4xx from
the receiver, a mailbox that does not exist).

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
import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
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


def email_message(
    settings: Settings, *, to_name: str, to_email: str, subject: str, text: str, key: str
) -> EmailMessage:
    message = EmailMessage()
    name, address = parseaddr(settings.smtp_from)
    local, _, domain = address.partition("@")
    message["From"] = Address(display_name=name, username=local, domain=domain or "localhost")
    to_local, _, to_domain = to_email.partition("@")
    message["To"] = Address(display_name=to_name, username=to_local, domain=to_domain)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # Stable across retries and re-drives: a mail system that has seen it may drop the copy. The
    # digest of the key (not the 79-character key, which no header line can hold unfolded).
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    message["Message-ID"] = f"<{digest}@{domain or 'cchc'}>"
    message["X-CCHC-Idempotency-Key"] = digest
    message.set_content(text, charset="utf-8")
    return message


async def send_email(settings: Settings, message: EmailMessage) -> str:
    if not settings.smtp_host:
        raise DeliveryError("chưa cấu hình máy chủ thư (CCHC_SMTP_HOST)", permanent=True)
    try:
        errors, response = await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            use_tls=settings.smtp_ssl,
            start_tls=settings.smtp_starttls if not settings.smtp_ssl else False,
            timeout=settings.smtp_timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        raise DeliveryError(
            f"máy chủ thư từ chối người nhận: {codes}", permanent=all(c >= 500 for c in codes), answered=True
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500, answered=True) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        log.info("notify: mail server %s:%s: %r", settings.smtp_host, settings.smtp_port, exc)
        raise DeliveryError(f"không gửi được thư: {UNREACHABLE} máy chủ thư", permanent=False) from None
    return f"SMTP {response}"
