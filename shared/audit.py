"""The audit trail of every write: who (user or token), as which unit, what (the route, the
objects named in its path, the body asked for — secrets blanked — and, where a service says so,
the state before), when and from where. Each service records it in the write's own transaction,
as an `audit.recorded` event through its outbox, so a write and its audit entry commit together
or not at all; the reports service keeps the trail for reading (GET /api/reports/audit).

`AuditContext` (ASGI middleware) notes each request's method, path and client address and keeps
a copy of a JSON body of at most 64 KiB as the app reads it; the route's access declaration adds
the caller and the route; `Service.transaction()` turns it into the event before committing."""

from __future__ import annotations

import contextvars
import json
import re
from dataclasses import dataclass, field
from typing import Any

from shared.events import Actor, AuditRecorded, current_actor
from shared.limits import clean

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
BODY_LIMIT = 64 * 1024
SECRET = re.compile(r"pass(word)?|secret|token|credential|key", re.IGNORECASE)
NATIONAL_SUBJECT = "VN"  # the subject's unit for a national actor ("*" is not a subject token)


@dataclass
class RequestInfo:
    method: str
    path: str
    address: str
    content_type: str = ""
    body: bytearray = field(default_factory=bytearray)
    overflow: bool = False
    route: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    actor: Actor | None = None
    before: Any = None
    recorded: bool = False


current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar("cchc_request", default=None)


def blank_secrets(value: Any) -> Any:
    """The body with every value under a secret-looking key replaced by "***"."""
    if isinstance(value, dict):
        return {clean(str(k)): "***" if SECRET.search(str(k)) else blank_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [blank_secrets(v) for v in value]
    if isinstance(value, str):  # what JSONB and the event can hold: no NUL, no lone UTF-16 half
        return clean(value)
    return value


def note_before(state: Any) -> None:
    """What a change replaces, for the audit entry of the request being served (services call
    this where the old state matters: roles, disabled accounts, amended plans)."""
    info = current.get()
    if info is not None:
        info.before = blank_secrets(state)


def pending(service: str) -> tuple[str, AuditRecorded] | None:
    """The audit entry the current write request should record (once), with its subject's unit."""
    info = current.get()
    if info is None or info.recorded or info.method not in UNSAFE or info.actor is None:
        return None
    info.recorded = True
    body: Any = None
    if info.overflow:
        body = {"_": "(nội dung lớn hơn 64 KiB hoặc không phải JSON, không lưu)"}
    elif info.body and "json" in info.content_type:
        try:
            body = blank_secrets(json.loads(bytes(info.body)))
        except ValueError:
            body = {"_": "(không đọc được JSON)"}
    unit = info.actor.unit if info.actor.unit != "*" else NATIONAL_SUBJECT
    return unit, AuditRecorded(
        service=service,
        actor=info.actor,
        method=info.method,
        route=info.route or info.path,
        path=info.path,
        params={k: str(v) for k, v in info.params.items()},
        query=blank_secrets(info.query),
        body=body,
        before=info.before,
        address=info.address,
    )


class AuditContext:
    """ASGI middleware: a RequestInfo for each HTTP request, for the audit entry of a write."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        forwarded = headers.get("x-forwarded-for", "")
        peer = scope.get("client") or ("", 0)
        info = RequestInfo(
            method=scope["method"],
            path=scope["path"],
            address=(forwarded.rsplit(",", 1)[-1].strip() if forwarded else peer[0])[:100],
            content_type=headers.get("content-type", "").lower(),
        )
        if "json" not in info.content_type:
            info.overflow = info.method in UNSAFE and headers.get("content-length", "0") not in ("", "0")

        async def reading() -> Any:
            message = await receive()
            if message["type"] == "http.request" and not info.overflow:
                chunk = message.get("body", b"")
                if len(info.body) + len(chunk) > BODY_LIMIT:
                    info.overflow = True
                    info.body.clear()
                else:
                    info.body += chunk
            return message

        # the request's own context: nothing of an earlier request served in the same task (an
        # in-process test client) is taken for this one's caller
        from shared.auth import current_scope  # (auth needs this module: imported here)

        token, actor, unit_scope = current.set(info), current_actor.set(None), current_scope.set(None)
        try:
            await self.app(scope, reading if info.method in UNSAFE else receive, send)
        finally:
            current.reset(token)
            current_actor.reset(actor)
            current_scope.reset(unit_scope)
