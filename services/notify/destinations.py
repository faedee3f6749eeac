"""Where a webhook may be sent (địa chỉ nhận webhook): https to a public address, never into the
deployment's own network. The same rules run when a contact is added (an early, clear refusal)
and at every send, on the addresses the name resolves to then — a name may resolve elsewhere
later (DNS rebinding) — and the send connects to the address that was checked (`Destination`).

Refused: loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 with the cloud metadata
address, fe80::/10), unspecified, multicast, reserved and documentation ranges, shared CGNAT
100.64/10, IPv6 forms that carry one of those IPv4 addresses (mapped, NAT64, 6to4, Teredo),
IPv4 written as one number, in octal or in hex, the service names of the deployment (plans,
postgres, …) and any name without a domain, and the endpoints the system itself uses (its public
URL, NATS, database, mail server), which stay refused even when allow-listed.
CCHC_WEBHOOK_ALLOW_HOSTS names the on-premise bridges (host names, addresses or CIDRs) that may
be private and may use http."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[Address]]]

# The names the services, the gateway and the servers have inside the deployment (compose).
DEPLOYMENT_NAMES = frozenset({"plans", "tasks", "notify", "reports", "gateway", "nats", "postgres", "localhost"})
# Not global, though Python's is_private does not say so (or did not before 3.13).
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(n) for n in ("100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "fec0::/10", "64:ff9b:1::/48")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """The destination is not allowed; `scheme`: only because it is http. The message (English,
    with the address) is for the server log only."""

    def __init__(self, why: str, *, scheme: bool = False) -> None:
        super().__init__(why)
        self.scheme = scheme


class Unresolved(Exception):
    """The name did not resolve (now): possibly transient."""


def classify(address: Address) -> str | None:
    """Why this address is not a public one a webhook may reach, or None if it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            why = classify(embedded)
            return f"IPv4 {why} in IPv6" if why else None
    for test, why in (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (any(address in n for n in _NOT_GLOBAL if n.version == address.version), "shared or special-purpose"),
        (not address.is_global, "not global"),
    ):
        if test:
            return why
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        server, client = address.teredo
        return client if classify(client) else server
    if int(address) >> 32 == 0 and int(address) > 1:  # the deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def _number(part: str) -> int | None:
    """One part of an IPv4 address as URL parsers and inet_aton read it: 0x.. hex, 0.. octal."""
    if re.fullmatch(r"0x[0-9a-f]*", part):
        return int(part[2:] or "0", 16)
    if re.fullmatch(r"0[0-7]+", part):
        return int(part[1:], 8)
    return int(part) if re.fullmatch(r"[1-9][0-9]*|0", part) else None


def literal(host: str) -> Address | None:
    """The address a host written as one stands for, in every spelling a resolver accepts
    (`127.0.0.1`, `[::1]`, `2130706433`, `0x7f.1`, `0177.0.0.1`); None for a name. A name that
    ends in a number but is no address is refused: resolvers disagree on what it means."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    parts = host.split(".")
    numbers = [_number(p) for p in parts]
    if _number(parts[-1]) is None:
        return None
    if any(n is None for n in numbers) or len(parts) > 4:
        raise Refused(f"host {host!r} looks like an IPv4 address but is none")
    values = [n for n in numbers if n is not None]
    if any(v > 255 for v in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise Refused(f"host {host!r} is an IPv4 address out of range")
    value = values[-1]
    for i, v in enumerate(values[:-1]):
        value += v << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _endpoint(url: str, default_port: int) -> tuple[str, int] | None:
    try:
        parts = urlsplit(url if "://" in url else f"//{url}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    return (host.rstrip(".").lower(), port or default_port) if host else None


@dataclass(frozen=True)
class Policy:
    """The deployment's rules, read from its settings."""

    allowed_names: frozenset[str]
    allowed_networks: tuple[Network, ...]
    own_names: frozenset[str]
    own_endpoints: frozenset[tuple[str, int]]

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        names, networks = set(), []
        for entry in settings.webhook_allow_hosts:
            entry = entry.strip().rstrip(".").lower()
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                if entry:
                    names.add(entry)
        endpoints = {
            e
            for e in (
                _endpoint(settings.public_url, 443 if settings.public_url.startswith("https") else 80),
                *(_endpoint(u, 4222) for u in (settings.nats_url or "").split(",") if u.strip()),
                _endpoint(settings.database_url or "", 5432),
                _endpoint(settings.otlp_endpoint or "", 4317),
                (settings.smtp_host.lower(), settings.smtp_port) if settings.smtp_host else None,
                (settings.service_host, settings.service_port) if settings.service_port else None,
            )
            if e is not None
        }
        own = {h for h, _ in endpoints if _is_name(h)} | DEPLOYMENT_NAMES
        return cls(frozenset(names), tuple(networks), frozenset(own), frozenset(endpoints))

    def listed(self, host: str, addresses: Iterable[Address]) -> bool:
        """The host is on the allow-list: by name, or all its addresses by network."""
        found = list(addresses)
        return host in self.allowed_names or (
            bool(found) and all(any(a in n for n in self.allowed_networks if n.version == a.version) for a in found)
        )

    def refuse(
        self,
        *,
        scheme: str,
        host: str,
        port: int,
        addresses: list[Address],
        own_addresses: frozenset[tuple[str, int]] = frozenset(),
    ) -> None:
        """Raise Refused unless a request to these addresses of `host` may be sent; `own_addresses`
        are the system's endpoints by address (their names resolved), refused even when listed."""
        own = self.own_endpoints | own_addresses
        for address in addresses:
            shown = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
            if {(host, port), (str(address), port), (str(shown), port)} & own:
                raise Refused(f"{host}:{port} ({address}) is an endpoint of this system")
        listed = self.listed(host, addresses)
        if not listed:
            for address in addresses:
                why = classify(address)
                if why:
                    raise Refused(f"{host} resolves to {address}, {why}")
        if scheme != "https" and not listed:
            raise Refused(f"{scheme} to {host} is not allowed (not on the allow-list)", scheme=True)


def _is_name(host: str) -> bool:
    try:
        return literal(host) is None
    except Refused:
        return False


@dataclass(frozen=True)
class Destination:
    """Where one request goes: the URL with the checked address in place of the name, and the
    Host header and TLS server name of the original (the certificate is checked against it)."""

    url: str
    host_header: str
    server_name: str | None


async def lookup(host: str, port: int) -> list[Address]:
    """The addresses the system's resolver gives for `host` (the boundary tests replace)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolved(f"{host}: {exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def vet(url: str, settings: Settings, *, wait_seconds: float) -> Destination:
    """Check `url` against the rules on the addresses its host resolves to now, and pin the
    first one; Refused or Unresolved (also when resolving takes longer than `wait_seconds`)."""
    try:
        parts = urlsplit(url)
        scheme, raw_host, port = parts.scheme.lower(), parts.hostname or "", parts.port
    except ValueError:
        raise Refused(f"unreadable URL {url!r}") from None
    if scheme not in ("http", "https") or not raw_host:
        raise Refused(f"not an http(s) URL: {url!r}")
    port = port or (443 if scheme == "https" else 80)
    host = raw_host.rstrip(".").lower()
    policy = Policy.of(settings)
    address = literal(host)
    if address is None:
        if host not in policy.allowed_names and (host in policy.own_names or "." not in host):
            raise Refused(f"{host} is a name inside the deployment")
        if scheme != "https" and host not in policy.allowed_names and not policy.allowed_networks:
            raise Refused(f"{scheme} to {host} is not allowed (not on the allow-list)", scheme=True)
        try:
            async with asyncio.timeout(wait_seconds):
                addresses = await lookup(host, port)
        except TimeoutError:
            raise Unresolved(f"{host}: no answer in {wait_seconds:g} s") from None
        if not addresses:
            raise Unresolved(f"{host}: no address")
    else:
        addresses = [address]
    own = await own_addresses(policy, wait_seconds=wait_seconds)
    policy.refuse(scheme=scheme, host=host, port=port, addresses=addresses, own_addresses=own)
    pinned = addresses[0]
    netloc = f"[{pinned}]" if pinned.version == 6 else str(pinned)
    explicit = parts.port is not None
    target = parts._replace(netloc=f"{netloc}:{port}" if explicit else netloc)
    return Destination(
        url=target.geturl(),
        host_header=f"{_netloc_host(raw_host)}:{port}" if explicit else _netloc_host(raw_host),
        server_name=host if address is None else None,
    )


_OWN_TTL = 60.0
_own_cache: dict[tuple[str, int], tuple[float, frozenset[tuple[str, int]]]] = {}


async def own_addresses(policy: Policy, *, wait_seconds: float) -> frozenset[tuple[str, int]]:
    """The system's own endpoints by address: its names (nats, postgres, the SMTP host …) resolved,
    so that an allow-listed network that holds them (a bridge's CIDR overlapping the compose
    network) still cannot reach them. Kept a minute; a name that does not resolve adds nothing."""
    found: set[tuple[str, int]] = set()
    now = time.monotonic()
    for name, port in policy.own_endpoints:
        if not _is_name(name):
            continue
        cached = _own_cache.get((name, port))
        if cached is None or cached[0] < now:
            try:
                async with asyncio.timeout(wait_seconds):
                    resolved = frozenset((str(a), port) for a in await lookup(name, port))
            except (Unresolved, TimeoutError):
                resolved = frozenset()
            cached = (now + _OWN_TTL, resolved)
            _own_cache[(name, port)] = cached
        found |= cached[1]
    return frozenset(found)


def _netloc_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
