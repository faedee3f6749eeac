"""How fast a hub catches up with a commune site whose link was cut (shared/federation.py): a hub
nats-server (JetStream domain `hub`, a leaf port, the site's user with the link's permissions)
and a site's leaf nats-server behind a TCP proxy, with the streams as the services make them
(bus.stream_configs: the hub's progress stream sources the site's, filtered to its subtree).
The link is cut, `--events` progress events (~1 KB envelopes, as the tasks outbox writes them)
are stored at the site, the link comes back, and the hub's stream is watched until it holds
them all: the seconds from the link's return to the first and to the last, and the rate.

    .venv/bin/python bench/federation_catchup.py [--events 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's tests: the TCP proxy the fault tests cut links with

from shared.bus import stream_configs  # noqa: E402
from shared.events import stream_name  # noqa: E402
from shared.federation import domain_of, leaf_permissions  # noqa: E402
from shared.servers import EmbeddedNats, free_port  # noqa: E402
from shared.settings import Settings  # noqa: E402
from tests.faults.deployment import Proxy  # noqa: E402

PREFIX = "cchc"
SITE = "52.21787"
BODY = b'{"type": "progress.reported", "payload": "' + b"x" * 1000 + b'"}'


async def run(events: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="cchc-bench-federation-") as folder:
        root = Path(folder)
        user, password = domain_of(SITE), "bench-password"
        hub = EmbeddedNats(
            root / "hub",
            domain="hub",
            leaf_port=free_port(),
            leaf_users={user: password},
            leaf_permissions={user: leaf_permissions(PREFIX, SITE)},
        )
        (root / "hub").mkdir()
        hub.start()
        link = Proxy(hub.leaf_port)
        site = EmbeddedNats(
            root / "site",
            domain=user,
            hub=f"nats-leaf://{user}:{password}@127.0.0.1:{link.port}",
            not_across=[f"{PREFIX}.>"],
        )
        (root / "site").mkdir()
        site.start()
        try:
            at_hub, at_site = await nats.connect(hub.url), await nats.connect(site.url)
            for js, settings in (
                (at_hub.jetstream(), Settings(nats_prefix=PREFIX, sites=[SITE])),
                (at_site.jetstream(), Settings(nats_prefix=PREFIX, site=SITE)),
            ):
                for config in stream_configs(PREFIX, settings):
                    await js.add_stream(config)
            progress = stream_name(PREFIX, "progress")
            await asyncio.sleep(1.0)
            link.cut()
            js = at_site.jetstream()
            started = time.perf_counter()
            for first in range(0, events, 500):
                acks = [
                    js.publish(f"{PREFIX}.progress.reported.{SITE}", BODY, headers={"Nats-Msg-Id": f"e{n}"})
                    for n in range(first, min(first + 500, events))
                ]
                await asyncio.gather(*acks)
            stored = time.perf_counter() - started
            hub_js = at_hub.jetstream()
            assert (await hub_js.stream_info(progress)).state.messages == 0, "the link was not cut"
            link.heal()
            back = time.perf_counter()
            first_seen = None
            while True:
                held = (await hub_js.stream_info(progress)).state.messages
                if held and first_seen is None:
                    first_seen = time.perf_counter() - back
                if held >= events:
                    break
                await asyncio.sleep(0.05)
            caught_up = time.perf_counter() - back
            assert (await hub_js.stream_info(progress)).state.messages == events  # each once
            await at_hub.close()
            await at_site.close()
            return {
                "stored_at_site_s": round(stored, 2),
                "first_at_hub_s": round(first_seen or 0.0, 2),
                "all_at_hub_s": round(caught_up, 2),
                "rate_per_s": round(events / caught_up),
            }
        finally:
            site.stop()
            link.close()
            hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = [asyncio.run(run(args.events)) for _ in range(args.runs)]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    summary = {
        "events": args.events,
        "runs": results,
        "median_all_at_hub_s": statistics.median(r["all_at_hub_s"] for r in results),
        "median_rate_per_s": statistics.median(r["rate_per_s"] for r in results),
        "load_average": os.getloadavg()[0],
        "cpus": os.cpu_count(),
        "commit": commit,
        "python": sys.version.split()[0],
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
