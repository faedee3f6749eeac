"""`cchc up --cluster 3 --leafnodes … --sites …` (a hub: a JetStream cluster of three, each node
taking leaf connections) and `cchc up --site … --hub-credentials …` (a commune site), each with
its own embedded nats-server(s) and database: the site links to the hub with the credentials the
hub wrote for it, takes the province's plan, makes its commune's assignment and takes its report,
which the hub's roll-up counts."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from shared.servers import free_port
from tests.e2e.conftest import Running, embedded_nats_environment, operated, start
from tests.integration.plans_data import QUARTERLY_PLAN
from tests.servers import Servers, new_database

pytestmark = pytest.mark.e2e

SITE = "52.21787"


async def eventually(check, timeout: float = 120.0):  # type: ignore[no-untyped-def]  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"not within {timeout}s: {last!r}")


async def test_a_commune_site_links_to_its_hub_and_the_hub_counts_its_report(
    tmp_path: Path, servers: Servers, database_url: str
) -> None:
    tmp_path.chmod(0o755)  # noqa: ASYNC240 - once, before anything runs
    leaf_port = free_port()
    hub = start(
        tmp_path / "hub",
        embedded_nats_environment(servers, database_url, "st"),
        options=("--cluster", "3", "--leafnodes", str(leaf_port), "--sites", SITE),
        timeout=120,
    )
    site: Running | None = None
    try:
        credentials = tmp_path / "hub" / "secrets" / "nats" / f"site-{SITE}.json"
        link = json.loads(credentials.read_text())
        urls = link["url"].split(",")  # every node of the hub's cluster takes the site's link
        assert len(urls) == 3 and urls[0] == f"nats-leaf://127.0.0.1:{leaf_port}" and link["site"] == SITE
        assert credentials.stat().st_mode & 0o077 == 0  # a secret: its owner only
        async with new_database(servers.database_url) as site_database:
            site = start(
                tmp_path / "site",
                embedded_nats_environment(servers, site_database, "st"),
                options=("--site", SITE, "--hub-credentials", str(credentials)),
                timeout=120,
            )
            # the site's nats-server settings hold its password on the hub: its owner's only
            assert (tmp_path / "site" / "nats-server.conf").stat().st_mode & 0o077 == 0
            async with await operated(hub.base_url) as at_hub, await operated(site.base_url) as at_site:
                assert (await at_hub.post("/api/units/load", json={"provinces": ["52"]})).status_code == 200
                made = await at_hub.post("/api/plans", json=QUARTERLY_PLAN)
                assert made.status_code == 201, made.text
                assert (await at_hub.post(f"/api/plans/{made.json()['id']}/issue")).status_code == 200

                async def assigned_at_the_site() -> dict | None:
                    got = await at_site.get("/api/assignments", params={"unit": "21787", "period": "2026-Q1"})
                    items = got.json().get("items") if got.status_code == 200 else None
                    return items[0] if items else None

                found = await eventually(assigned_at_the_site)
                sent = await at_site.post(
                    f"/api/assignments/{found['id']}/progress",
                    json={
                        "period": "2026-Q1",
                        "status": "done",
                        "outputs": {"article": 2},
                        "reporter": {"unit": "21787"},
                    },
                )
                assert sent.status_code == 201, sent.text

                async def counted_at_the_hub() -> dict | None:
                    got = await at_hub.get("/api/reports/rollup", params={"unit": "21787", "period": "2026-Q1"})
                    body = got.json() if got.status_code == 200 else {}
                    return body if body.get("reported") == 1 else None

                body = await eventually(counted_at_the_hub)
                assert body["outputs"] == {"article": 2}
                # the hub made no assignment for the site's commune: the site did
                mine = await at_hub.get("/api/assignments", params={"unit": "21787", "period": "2026-Q1"})
                assert mine.status_code == 200 and mine.json()["items"] == []
    finally:
        if site is not None:
            site.stop()
        hub.stop()


def test_a_site_without_its_credentials_or_for_another_unit_is_refused(tmp_path: Path) -> None:
    import os
    import subprocess

    from tests.e2e.conftest import CCHC

    clean = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    creds = tmp_path / "site.json"
    creds.write_text(
        json.dumps({"site": "52.21853", "url": "nats-leaf://127.0.0.1:7422", "user": "u", "password": "p"})
    )
    for options, said in (
        (("--site", SITE), "--hub-credentials"),
        (("--site", SITE, "--hub-credentials", str(creds)), "không phải 52.21787"),
        (("--leafnodes", "7422"), "--sites"),
        (("--site", SITE, "--sites", SITE), "không cả hai"),
    ):
        done = subprocess.run(
            [*CCHC, "up", "--port", "0", "--data-dir", str(tmp_path / "d"), *options],
            env=clean,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0, options
        assert said in done.stderr + done.stdout, (options, done.stderr)
