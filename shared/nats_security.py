"""Who may do what on NATS, with the server's own mechanism: one user per service, an operator
that alone creates and updates streams and consumers, and read-only users of other systems
confined to a unit subtree. This module turns those rules into the nats-server
`authorization { users [...] }` block (the same file for `cchc up`'s embedded server and for
compose), keeps the passwords in files of mode 0600, and gives each process its connect options.

Without a NATS user configured (CCHC_NATS_USER unset) nothing is enforced: each service then
declares its own streams and consumers at start-up, as on an unauthenticated server.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import nats
import psutil
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from shared.events import DEAD_LETTER, FAMILIES, stream_name
from shared.settings import Settings

if TYPE_CHECKING:  # shared.bus uses this module (the subscribers' inbox prefix)
    from shared import bus

OPERATOR = "operator"
UNIT_PATH = re.compile(r"^[0-9A-Za-z_-]+(\.[0-9A-Za-z_-]+)*$")  # no wildcards, no empty segment
USER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # also a durable-name and inbox-token part


class NotProvisioned(RuntimeError):
    """A stream or consumer a service needs is missing and its user may not create it."""


def inbox_prefix(user: str) -> str:
    """Each user's own reply subjects: with a shared `_INBOX.>` users could read each other's."""
    return f"_INBOX_{user}"


def subscriber_inbox(settings: Settings) -> bytes:
    """The deliver-subject prefix of a pull subscriber (faststream's default is `_INBOX.`)."""
    return f"{inbox_prefix(settings.nats_user) if settings.nats_user else '_INBOX'}.".encode()


def strict(settings: Settings) -> bool:
    return settings.nats_user is not None


def connect_options(settings: Settings) -> dict[str, Any]:
    """nats.connect keyword arguments for this process's own user (none: anonymous)."""
    if settings.nats_user is None:
        return {}
    return {
        "user": settings.nats_user,
        "password": settings.secret("nats_password") or "",
        "inbox_prefix": inbox_prefix(settings.nats_user),
    }


def broker_options(settings: Settings) -> dict[str, Any]:
    """The same for faststream's NatsBroker (which forwards them to nats.connect)."""
    if settings.nats_user is None:
        return {}
    from faststream.nats import NatsUserPassword

    return {
        "security": NatsUserPassword(settings.nats_user, settings.secret("nats_password") or ""),
        "inbox_prefix": inbox_prefix(settings.nats_user),
    }


async def connect(settings: Settings) -> Client:
    return await nats.connect(settings.nats_servers, **connect_options(settings))


def redact(url: str) -> str:
    """A URL without its password, fit for a terminal or a log (each of a cluster's, comma-separated)."""
    if "," in url:
        return ",".join(redact(one.strip()) for one in url.split(","))
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


# --- who may do what --------------------------------------------------------------------------


@dataclass(frozen=True)
class Consumer:
    """A durable pull consumer: pulling from it and acking it is all its user may do with it."""

    stream: str
    durable: str


@dataclass(frozen=True)
class ServiceAccess:
    """A service's rights: publish its own event types and dead letters, pull and ack its own
    consumers, read the info of the streams and consumers it checks at start-up."""

    name: str
    publishes: tuple[str, ...]  # event types, e.g. "progress.reported"
    consumers: tuple[Consumer, ...]

    @classmethod
    def of(
        cls, name: str, publishes: list[str], subscriptions: list[bus.Subscription], *, prefix: str
    ) -> ServiceAccess:
        consumers = tuple(Consumer(sub.stream(prefix), sub.durable(name)) for sub in subscriptions)
        return cls(name, tuple(publishes), consumers)

    def streams(self, prefix: str) -> list[str]:
        """The streams it publishes to (dead letters included) or consumes from."""
        own = {stream_name(prefix, t.split(".", 1)[0]) for t in self.publishes} | {stream_name(prefix, DEAD_LETTER)}
        return sorted(own | {c.stream for c in self.consumers})

    def permissions(self, prefix: str) -> dict[str, Any]:
        publish = [f"{prefix}.{event_type}.>" for event_type in self.publishes]
        publish.append(f"{prefix}.{DEAD_LETTER}.{self.name}.>")
        for c in self.consumers:
            publish += _pull(c) + [f"$JS.API.CONSUMER.INFO.{c.stream}.{c.durable}"]
        publish += [f"$JS.API.STREAM.INFO.{stream}" for stream in self.streams(prefix)]
        publish.append("$JS.API.INFO")
        return {"publish": {"allow": publish}, "subscribe": {"allow": [f"{inbox_prefix(self.name)}.>"]}}


@dataclass(frozen=True)
class Reader:
    """Another system that may read one unit's subtree, through consumers made for it."""

    name: str
    unit: str
    prefix: str

    def __post_init__(self) -> None:
        if not USER_NAME.match(self.name) or self.name == OPERATOR:
            raise ValueError(f"tên người dùng NATS không hợp lệ: {self.name!r} (a-z, 0-9, -, _)")
        if not UNIT_PATH.match(self.unit):
            raise ValueError(f"đường dẫn đơn vị không hợp lệ: {self.unit!r} (ví dụ 52 hoặc 52.21787)")

    def consumers(self) -> list[tuple[Consumer, ConsumerConfig]]:
        """One per event stream, filtered to the unit itself and everything under it."""
        made = []
        for family in FAMILIES:
            consumer = Consumer(stream_name(self.prefix, family), f"{self.name}-{family}")
            config = ConsumerConfig(
                durable_name=consumer.durable,
                # `cchc.*.*.52.>` alone would miss the events about province 52 itself
                filter_subjects=[f"{self.prefix}.{family}.*.{self.unit}", f"{self.prefix}.{family}.*.{self.unit}.>"],
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=30.0,
                max_ack_pending=1000,
            )
            made.append((consumer, config))
        return made

    def permissions(self) -> dict[str, Any]:
        publish = [subject for consumer, _ in self.consumers() for subject in _pull(consumer)]
        return {"publish": {"allow": publish}, "subscribe": {"allow": [f"{inbox_prefix(self.name)}.>"]}}


def _pull(c: Consumer) -> list[str]:
    return [f"$JS.API.CONSUMER.MSG.NEXT.{c.stream}.{c.durable}", f"$JS.ACK.{c.stream}.{c.durable}.>"]


def operator_permissions(prefix: str) -> dict[str, Any]:
    """The JetStream API (streams, consumers, dead letters), and the event families' subjects:
    re-driving a dead letter (`cchc dead-letters redrive`) publishes the event again on its own
    subject. The bytes are the original's, and consumers still check its producer and unit
    against the subject (shared/provenance.py); the dead-letter subjects stay the services' own."""
    publish = ["$JS.API.>", *(f"{prefix}.{family}.>" for family in FAMILIES)]
    return {"publish": {"allow": publish}, "subscribe": {"allow": [f"{inbox_prefix(OPERATOR)}.>"]}}


# --- the folder of credentials and the server's authorization file ------------------------------


class AuthDir:
    """`<data dir>/nats-auth` (mode 0700): one password file per user (0600), the readers granted
    so far (readers.json) and the server's `auth.conf` (0600), which holds the passwords."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def config(self) -> Path:
        return self.path / "auth.conf"

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.path.chmod(0o700)

    def password_file(self, user: str) -> Path:
        return self.path / f"{user}.password"

    def password(self, user: str) -> str:
        """The user's password, made on first use and kept."""
        path = self.password_file(user)
        if not path.exists():
            write_secret(path, secrets.token_urlsafe(32))
        return path.read_text(encoding="utf-8").strip()

    def readers(self) -> list[Reader]:
        path = self.path / "readers.json"
        if not path.exists():
            return []
        return [Reader(**item) for item in json.loads(path.read_text(encoding="utf-8"))]

    def add_reader(self, reader: Reader) -> None:
        readers = [r for r in self.readers() if r.name != reader.name] + [reader]
        write_secret(self.path / "readers.json", json.dumps([asdict(r) for r in readers], indent=2))

    def write_config(self, services: list[ServiceAccess], *, prefix: str, sites: Sequence[str] = ()) -> Path:
        """The `authorization` block for every user: the operator, the services, the readers, and
        on a hub the user of each site's leaf connection (shared/federation.py)."""
        from shared.federation import domain_of, leaf_permissions

        self.ensure()
        users = [{"user": OPERATOR, "password": self.password(OPERATOR), "permissions": operator_permissions(prefix)}]
        users += [
            {"user": s.name, "password": self.password(s.name), "permissions": s.permissions(prefix)} for s in services
        ]
        users += [
            {"user": r.name, "password": self.password(r.name), "permissions": r.permissions()} for r in self.readers()
        ]
        users += [
            {
                "user": domain_of(site),
                "password": self.password(domain_of(site)),
                "permissions": leaf_permissions(prefix, site),
            }
            for site in sites
        ]
        text = (
            "# Generated by cchc (shared/nats_security.py); regenerated at every `cchc up`. Holds passwords.\n"
            f"authorization: {json.dumps({'users': users}, indent=2)}\n"
        )
        write_secret(self.config, text)
        return self.config

    def env_for(self, user: str) -> dict[str, str]:
        """What a process running as `user` needs in its environment: its name and password file."""
        return {"CCHC_NATS_USER": user, "CCHC_NATS_PASSWORD_FILE": str(self.password_file(user))}


def write_secret(path: Path, text: str) -> None:
    """Write a file only its owner can read (created so, never world-readable first)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)  # an older file keeps its mode through O_CREAT


def reload_server(pidfile: Path) -> bool:
    """Ask the running nats-server of `pidfile` to re-read its configuration (SIGHUP)."""
    with contextlib.suppress(ValueError, OSError, psutil.Error):
        proc = psutil.Process(int(pidfile.read_text().strip()))
        if "nats-server" in proc.name() or "nats-server" in " ".join(proc.cmdline()):
            os.kill(proc.pid, signal.SIGHUP)
            return True
    return False


# --- streams and consumers: made by the operator, checked by the services -----------------------


async def provision(
    js: JetStreamContext,
    services: list[tuple[str, list[bus.Subscription]]],
    *,
    settings: Settings,
    readers: Sequence[Reader] = (),
) -> None:
    """Create or update every stream and every consumer (the operator's job)."""
    from shared import bus

    await bus.ensure_streams(js, settings.nats_prefix, settings)
    for name, subscriptions in services:
        await bus.reconcile_consumers(js, subscriptions, service=name, settings=settings)
    for reader in readers:
        for consumer, config in reader.consumers():
            await js.add_consumer(consumer.stream, config)


async def declare_or_check(
    js: JetStreamContext,
    *,
    service: str,
    publishes: list[str],
    subscriptions: list[bus.Subscription],
    settings: Settings,
) -> None:
    """At a service's start: without a NATS user, declare its streams and consumers as before;
    with one, only check that the operator made them (the user may not)."""
    from shared import bus

    if not strict(settings):
        await bus.ensure_streams(js, settings.nats_prefix, settings)
        await bus.reconcile_consumers(js, subscriptions, service=service, settings=settings)
        return
    access = ServiceAccess.of(service, publishes, subscriptions, prefix=settings.nats_prefix)
    missing = []
    for stream in access.streams(settings.nats_prefix):
        try:
            await js.stream_info(stream)
        except NotFoundError:
            missing.append(f"stream {stream}")
    for consumer in access.consumers:
        if f"stream {consumer.stream}" in missing:
            continue
        try:
            await js.consumer_info(consumer.stream, consumer.durable)
        except NotFoundError:
            missing.append(f"consumer {consumer.stream}/{consumer.durable}")
    if missing:
        raise NotProvisioned(
            f"{service}: chưa có trên NATS (missing): {', '.join(missing)}. Người dùng NATS {settings.nats_user!r} "
            "không được tạo chúng: chạy `cchc migrate` (hoặc `cchc up`) với người dùng operator trước."
        )
