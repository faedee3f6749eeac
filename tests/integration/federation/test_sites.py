"""A hub and two commune sites on leaf nodes (shared/federation.py), with real nats-servers on
loopback — the hub's with JetStream domain `hub` and a leaf port, each site's with a domain of its
own and a leaf connection to the hub through a TCP proxy that can cut it — and each side's
services on a database of its own. The province issues a plan at the hub; each site makes its
commune's assignments; one site's link is cut while both report and the province amends the plan;
on reconnect the hub's roll-up counts every report exactly once, newest version winning."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest

from shared.events import stream_name
from shared.federation import domain_of, leaf_permissions
from shared.servers import EmbeddedNats, free_port
from shared.settings import Settings
from tests.faults.deployment import Proxy
from tests.integration.conftest import DatabaseRoles, System, running
from tests.integration.plans_data import QUARTERLY_PLAN
from tests.integration.steps import move_tasks_clock, notifications_for
from tests.servers import Servers, new_database

pytestmark = pytest.mark.integration

SITE_A, SITE_B = "52.21787", "52.21853"  # Xã Vĩnh Sơn and Xã Phù Cát: communes with their own sites
AT_THE_HUB = "21892"  # Xã Xuân An: a commune the hub serves itself
QUARTERS = 4


@dataclass
class Topology:
    hub: EmbeddedNats
    sites: dict[str, EmbeddedNats] = field(default_factory=dict)
    links: dict[str, Proxy] = field(default_factory=dict)

    def leaves(self) -> int:
        """Leaf connections the hub has (its monitoring's /leafz)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.hub.monitor_port}/leafz", timeout=2) as answer:
            return int(json.load(answer).get("leafnodes", 0))


@pytest.fixture
async def topology(tmp_path: Path, nats_prefix: str) -> AsyncIterator[Topology]:
    passwords = {domain_of(site): f"pw-{site.replace('.', '-')}" for site in (SITE_A, SITE_B)}
    hub = EmbeddedNats(
        tmp_path / "hub",
        domain="hub",
        leaf_port=free_port(),
        leaf_users=passwords,
        # what each site's connection may carry: its sources' requests and deliveries only
        leaf_permissions={domain_of(s): leaf_permissions(nats_prefix, s) for s in (SITE_A, SITE_B)},
        monitor_port=free_port(),
    )
    made = Topology(hub)
    try:
        (tmp_path / "hub").mkdir()
        hub.start()
        for site in (SITE_A, SITE_B):
            link = Proxy(hub.leaf_port)
            user = domain_of(site)
            server = EmbeddedNats(
                tmp_path / site,
                domain=user,
                hub=f"nats-leaf://{user}:{passwords[user]}@127.0.0.1:{link.port}",
                not_across=[f"{nats_prefix}.>"],
            )
            (tmp_path / site).mkdir()
            made.links[site], made.sites[site] = link, server
            server.start()
        for _ in range(100):
            if made.leaves() == 2:
                break
            await asyncio.sleep(0.1)
        assert made.leaves() == 2, "the sites' leaf connections did not come up"
        yield made
    finally:
        for server in made.sites.values():
            server.stop()
        for link in made.links.values():
            link.close()
        hub.stop()


@contextlib.asynccontextmanager
async def site_system(
    settings: Settings, servers: Servers, template: str, roles: DatabaseRoles, site: str, url: str
) -> AsyncIterator[System]:
    async with new_database(servers.database_url, template=template) as database:
        changes = {"nats_url": url, "database_url": database, "site": site}
        async with running(settings, roles, "plans", "tasks", "reports", "notify", **changes) as system:
            yield system


async def assignment(system: System, code: str, quarter: int) -> dict[str, Any]:
    """The commune's assignment of the province's plan in that quarter ({} if none here)."""
    items = (await system.get("/api/assignments", params={"unit": code, "period": f"2026-Q{quarter}"})).json()
    mine = [i for i in items.get("items", []) if i["plan_number"] == QUARTERLY_PLAN["number"]]
    return dict(mine[0]) if mine else {}


async def report(system: System, code: str, outputs: int, status: str = "done") -> None:
    found = await assignment(system, code, 1)
    sent = await system.post(
        f"/api/assignments/{found['id']}/progress",
        json={"period": "2026-Q1", "status": status, "outputs": {"article": outputs}, "reporter": {"unit": code}},
    )
    assert sent.status_code == 201, sent.text


async def rollup(system: System, unit: str, period: str = "2026-Q1") -> dict[str, Any]:
    answer = await system.get("/api/reports/rollup", params={"unit": unit, "period": period})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def stored(url: str, stream: str, subject: str) -> int:
    """How many messages on `subject` a stream holds (each event stored once on each side)."""
    client = await nats.connect(url)
    try:
        info = await client.jetstream().stream_info(stream, subjects_filter=subject)
        return sum((info.state.subjects or {}).values())
    finally:
        await client.close()


async def test_a_cut_site_keeps_working_and_the_hub_counts_its_reports_once_on_reconnect(
    topology: Topology,
    settings: Settings,
    servers: Servers,
    template_database: str,
    database_roles: DatabaseRoles,
    nats_prefix: str,
) -> None:
    hub_settings = settings.model_copy(update={"nats_url": topology.hub.url, "sites": [SITE_A, SITE_B]})
    async with (
        running(hub_settings, database_roles) as hub,
        site_system(settings, servers, template_database, database_roles, SITE_A, topology.sites[SITE_A].url) as a,
        site_system(settings, servers, template_database, database_roles, SITE_B, topology.sites[SITE_B].url) as b,
    ):
        await hub.post("/api/units/load", json={"provinces": ["52"]})
        plan_id = (await hub.post("/api/plans", json=QUARTERLY_PLAN)).json()["id"]
        assert (await hub.post(f"/api/plans/{plan_id}/issue")).status_code == 200
        communes = 135

        # each site makes its own commune's assignments from the plan it sourced; the hub those
        # of the others, and its roll-up expects every commune's, the sites' sourced from them
        for site in (a, b):
            await site.eventually(lambda s=site, c=(SITE_A if site is a else SITE_B): assignment(s, c.split(".")[1], 1))
        assert not await assignment(hub, SITE_A.split(".")[1], 1)  # made at the site, not here
        # the site's directory: the units above it and its own, from the hub's; no other commune
        await a.eventually(lambda: _known(a, "21787"))
        assert await _known(a, "52") and not await _known(a, "21853")
        # …and the province's plan, read-only, for the commune to see what it implements
        seen = await a.eventually(lambda: _plan(a, plan_id))
        assert seen["number"] == QUARTERLY_PLAN["number"] and seen["status"] == "issued", seen
        assert [task["title"] for task in seen["tasks"]] == [QUARTERLY_PLAN["tasks"][0]["title"]]

        async def expected(system: System, unit: str, count: int) -> bool:
            answer = await system.get("/api/reports/rollup", params={"unit": unit, "period": "2026"})
            return answer.status_code == 200 and answer.json()["expected"] == count  # 404: the unit not in yet

        await hub.eventually(lambda: expected(hub, "52", communes * QUARTERS))
        await a.eventually(lambda: expected(a, "21787", QUARTERS))  # the site: its commune only

        # the commune's own plan, issued at its site, reaches the hub's plans
        own = {
            **QUARTERLY_PLAN,
            "number": "05/KH-UBND",
            "issuer": "21787",
            "tasks": [
                {**QUARTERLY_PLAN["tasks"][0], "title": "Tuyên truyền trên loa truyền thanh xã", "lead": ["21787"]}
            ],
        }
        made = await a.post("/api/plans", json=own)
        assert made.status_code == 201, made.text
        assert (await a.post(f"/api/plans/{made.json()['id']}/issue")).status_code == 200
        at_hub = await hub.eventually(lambda: _plan(hub, made.json()["id"]))
        assert at_hub["issuer"] == "21787" and at_hub["status"] == "issued"

        # the link of site A is cut: it keeps reminding, and taking reports, B and the hub too
        topology.links[SITE_A].cut()
        a_assignment = uuid.UUID((await assignment(a, "21787", 1))["id"])
        told = await notifications_for(a, a_assignment)
        await move_tasks_clock(a, datetime(2026, 3, 9, 1, tzinfo=UTC))  # 7 days before the due date 16/03
        await a.eventually(lambda: _more(a, a_assignment, told))  # the due-soon reminder, from local state
        await report(a, "21787", 1, "in_progress")
        await report(a, "21787", 3)  # a correction: the newest version must win at the hub
        await report(b, "21853", 2)
        await report(hub, AT_THE_HUB, 5)

        async def counted_at_a() -> bool:  # the site's own roll-up counts it meanwhile
            return bool((await rollup(a, "21787"))["reported"] == 1)

        await a.eventually(counted_at_a)

        # the province amends the plan while A is away: the new title reaches B now, A later
        amended = {**QUARTERLY_PLAN, "tasks": [{**QUARTERLY_PLAN["tasks"][0], "title": "Gửi tin, bài (điều chỉnh)"}]}
        assert (await hub.post(f"/api/plans/{plan_id}/amend", json=amended)).status_code == 200

        async def b_and_hub_counted() -> bool:
            return (await rollup(hub, "52"))["reported"] == 2

        await hub.eventually(b_and_hub_counted)
        await b.eventually(lambda: _titled(b, "21853", "(điều chỉnh)"))
        await asyncio.sleep(2)  # longer than a source takes to deliver while linked
        assert (await rollup(hub, "52"))["reported"] == 2  # nothing from A while cut
        assert not await _titled(a, "21787", "(điều chỉnh)")

        topology.links[SITE_A].heal()

        async def all_counted() -> dict[str, Any] | None:
            body = await rollup(hub, "52")
            return body if body["reported"] == 3 else None

        await hub.eventually(all_counted)
        await a.eventually(lambda: _titled(a, "21787", "(điều chỉnh)"))  # the amendment reached A
        seen = (await a.get(f"/api/plans/{plan_id}")).json()
        assert seen["status"] == "amended" and seen["version"] == 2 and "(điều chỉnh)" in seen["tasks"][0]["title"]
        await hub.settled()
        await a.settled()

        # exactly once, newest version winning: the hub holds A's two reports once each, and
        # counts A's commune as done with 3 articles (not in progress, not 4)
        a_progress = f"{nats_prefix}.progress.*.{SITE_A}"
        assert await stored(topology.hub.url, stream_name(nats_prefix, "progress"), a_progress) == 2
        assert await stored(topology.sites[SITE_A].url, stream_name(nats_prefix, "progress"), a_progress) == 2
        row = await rollup(hub, "21787")
        assert row["reported"] == 1 and row["states"]["done_on_time"] == 1 and row["outputs"] == {"article": 3}, row
        total = await rollup(hub, "52")
        assert total["reported"] == 3 and total["expected"] == communes + 1  # and the commune's own plan
        assert total["outputs"] == {"article": 3 + 2 + 5}
        # the commune was told of its assignment, reminded, and told of the amendment by its site;
        # the hub told it nothing
        assert await notifications_for(a, a_assignment) == 3
        assert await notifications_for(hub, a_assignment) == 0
        # the hub did none of A's work: no assignment of A's commune in its tasks
        assert not await assignment(hub, "21787", 1)

        # what a site can do to the hub: nothing but its own subtree's events, by its sources
        hub_progress = stream_name(nats_prefix, "progress")
        other = f"{nats_prefix}.progress.reported.52.{AT_THE_HUB}"
        client = await nats.connect(topology.sites[SITE_A].url)
        try:
            forged = await client.jetstream().publish(other, b"{}", headers={"Nats-Msg-Id": "forged"})
            assert forged.stream == hub_progress  # stored at the site, which owns its stream…
            with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
                await client.request(f"$JS.hub.API.STREAM.DELETE.{hub_progress}", b"", timeout=2)
            with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
                await client.request(f"$JS.hub.API.STREAM.MSG.GET.{hub_progress}", b'{"seq": 1}', timeout=2)
        finally:
            await client.close()
        await asyncio.sleep(2)
        assert await stored(topology.hub.url, hub_progress, other) == 1  # …but the hub takes only A's subtree


async def _more(system: System, assignment_id: uuid.UUID, than: int) -> bool:
    return await notifications_for(system, assignment_id) > than


async def _plan(system: System, plan_id: str) -> dict[str, Any] | None:
    answer = await system.get(f"/api/plans/{plan_id}")
    return dict(answer.json()) if answer.status_code == 200 else None


async def _known(system: System, code: str) -> bool:
    return (await system.get(f"/api/units/{code}")).status_code == 200


async def _titled(system: System, code: str, words: str) -> bool:
    found = await assignment(system, code, 1)
    return bool(found) and words in found.get("task_title", found.get("title", ""))
