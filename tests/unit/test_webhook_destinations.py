"""Where a webhook may go (services/notify/destinations.py): the address classifier, the IPv4
spellings resolvers accept, the allow-list and the system's own endpoints. The resolver is the
one boundary replaced here (a dict); everything else is the code that runs at each send."""

from __future__ import annotations

import ipaddress

import pytest

from services.notify import destinations
from services.notify.destinations import Address, Refused, Unresolved, classify, literal, vet
from shared.settings import Settings

pytestmark = pytest.mark.unit

SETTINGS = Settings(
    nats_url="nats://nats:4222",
    database_url="postgresql+asyncpg://cchc@db.internal:5432/cchc",
    public_url="https://cchc.gialai.gov.vn",
    smtp_host="mail.gialai.gov.vn",
)
PUBLIC = "93.184.215.14"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # CGNAT
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "192.0.0.8",
        "::1",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "2001:db8::1",
    ],
)
def test_addresses_inside_a_network_or_reserved_are_not_public(address: str) -> None:
    assert classify(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_public(address: str) -> None:
    assert classify(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.0.258", "10.0.1.2"),
        ("[::1]", "::1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("169.254.43518", "169.254.169.254"),
    ],
)
def test_every_spelling_of_an_ipv4_address_is_read_as_that_address(host: str, address: str) -> None:
    assert literal(host) == ipaddress.ip_address(address)


def test_a_name_is_no_address_and_a_name_ending_in_a_number_is_refused() -> None:
    assert literal("zalo-bridge.example.vn") is None
    with pytest.raises(Refused):
        literal("bridge.1")
    with pytest.raises(Refused):
        literal("256.1.1.1")


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}

    async def lookup(host: str, port: int) -> list[Address]:
        if host not in names:
            raise Unresolved(host)
        return [ipaddress.ip_address(a) for a in names[host]]

    monkeypatch.setattr(destinations, "lookup", lookup)
    monkeypatch.setattr(destinations, "_own_cache", {})
    return names


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:5432/",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://[::1]:8222/",
        "https://[::ffff:127.0.0.1]/",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/",
        "https://10.0.0.5/hook",
        "https://postgres:5432/",
        "https://plans:8000/api/plans/x/close",
        "https://localhost/",
        "https://intranet/",  # a name without a domain
        "https://cchc.gialai.gov.vn/api/plans",  # the system's own public URL
        "https://db.internal:5432/",
        "https://evil.example/",  # resolves inside
        "https://mixed.example/",  # one address of several inside
    ],
)
async def test_destinations_inside_the_deployment_are_refused(dns: dict[str, list[str]], url: str) -> None:
    dns.update({"evil.example": ["127.0.0.1"], "mixed.example": [PUBLIC, "10.0.0.1"]})
    dns.update({"cchc.gialai.gov.vn": [PUBLIC], "db.internal": [PUBLIC]})
    with pytest.raises(Refused) as refused:
        await vet(url, SETTINGS, wait_seconds=1)
    assert not refused.value.scheme


async def test_http_is_refused_for_a_public_host_and_https_is_pinned_to_the_address_checked(
    dns: dict[str, list[str]],
) -> None:
    dns["bridge.example.vn"] = [PUBLIC]
    with pytest.raises(Refused) as refused:
        await vet("http://bridge.example.vn/hook", SETTINGS, wait_seconds=1)
    assert refused.value.scheme
    to = await vet("https://Bridge.example.vn:8443/hook?a=1", SETTINGS, wait_seconds=1)
    assert (to.url, to.host_header, to.server_name) == (
        f"https://{PUBLIC}:8443/hook?a=1",
        "bridge.example.vn:8443",
        "bridge.example.vn",
    )


async def test_a_name_that_resolves_inside_later_is_refused_then(dns: dict[str, list[str]]) -> None:
    dns["rebind.example"] = [PUBLIC]
    await vet("https://rebind.example/hook", SETTINGS, wait_seconds=1)
    dns["rebind.example"] = ["127.0.0.1"]
    with pytest.raises(Refused):
        await vet("https://rebind.example/hook", SETTINGS, wait_seconds=1)


async def test_the_allow_list_lets_a_bridge_be_private_and_use_http_but_not_the_systems_own_endpoints(
    dns: dict[str, list[str]],
) -> None:
    allowed = SETTINGS.model_copy(update={"webhook_allow_hosts": ["zalo-bridge.ubnd.local", "10.20.0.0/16", "nats"]})
    dns.update({"zalo-bridge.ubnd.local": ["192.168.5.5"], "signet.ubnd.local": ["10.20.1.1"]})
    dns.update({"other.ubnd.local": ["10.30.1.1"], "nats": ["10.20.0.9"]})
    to = await vet("http://zalo-bridge.ubnd.local:8080/hook", allowed, wait_seconds=1)
    assert (to.url, to.host_header) == ("http://192.168.5.5:8080/hook", "zalo-bridge.ubnd.local:8080")
    assert (await vet("http://signet.ubnd.local/hook", allowed, wait_seconds=1)).url == "http://10.20.1.1/hook"
    assert (await vet("http://10.20.3.4/hook", allowed, wait_seconds=1)).url == "http://10.20.3.4/hook"
    for url in ("http://other.ubnd.local/hook", "https://nats:4222/", "http://127.0.0.1/"):
        with pytest.raises(Refused):
            await vet(url, allowed, wait_seconds=1)


async def test_a_name_that_does_not_resolve_is_unresolved_not_refused(dns: dict[str, list[str]]) -> None:
    with pytest.raises(Unresolved):
        await vet("https://not-yet.example.vn/hook", SETTINGS, wait_seconds=1)


async def test_http_to_a_name_that_does_not_resolve_is_refused_for_its_scheme(dns: dict[str, list[str]]) -> None:
    with pytest.raises(Refused) as refused:
        await vet("http://not-yet.example.vn/hook", SETTINGS, wait_seconds=1)
    assert refused.value.scheme


async def test_the_systems_own_endpoints_are_refused_by_address_inside_an_allowed_network(
    dns: dict[str, list[str]],
) -> None:
    """A bridge's network that holds the system's NATS (compose): the NATS port at its address is
    refused, written as the address, while another port of that address is the bridge's to use."""
    allowed = SETTINGS.model_copy(update={"webhook_allow_hosts": ["10.20.0.0/16"]})
    dns.update({"nats": ["10.20.0.9"], "db.internal": ["10.20.0.7"]})
    for url in ("http://10.20.0.9:4222/", "http://10.20.0.7:5432/", "http://[::ffff:10.20.0.9]:4222/"):
        with pytest.raises(Refused):
            await vet(url, allowed, wait_seconds=1)
    assert (await vet("http://10.20.0.9:8080/hook", allowed, wait_seconds=1)).url == "http://10.20.0.9:8080/hook"
