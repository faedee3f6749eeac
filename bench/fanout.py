"""Benchmark: the fan-out of a national plan (issue 18: visible in the national roll-up in < 10 s).

Starts a real `cchc up` (embedded NATS and PostgreSQL, or CCHC_NATS_URL + CCHC_DATABASE_URL), loads
the 34 provinces (3,321 communes), then in each round creates one plan per province whose T monthly
tasks are led by "children" — together a national plan: 3,321 communes × 12 months × T assignments
(there is no national unit to issue one plan yet, so the 34 provinces issue theirs at the same
moment) — issues them all at once and times each stage from the first POST …/issue:

  issued    every POST /api/plans/{id}/issue answered (plan.issued in the plans outbox)
  stored    tasks.assignments holds every assignment (tasks handled the plan.issued)
  outbox    tasks' outbox holds an assignment.created for each
  relayed   all of them published (the outbox relay got their PubAcks)
  stream    the assignment stream holds them
  visible   reports.assignments holds them: the read model every roll-up counts ("visible": the
            national roll-up is the sum of these rows; polled in the database every 0.1 s)
  roll-up   afterwards, once: the sum of the 34 provinces' roll-ups' `expected` (checked equal)
  notify    notify's 'assigned' notifications, one per assignment (consumed beside reports)

and the CPU seconds each process used until `visible` (until notify is done, for notify).

    .venv/bin/python bench/fanout.py [--rounds R] [--tasks T] [--provinces 52,79,…]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import datetime
from typing import Any

import asyncpg
import httpx
from vietnam_provinces import Province

from shared.clock import VN
from shared.db import plain_url
from shared.events import stream_name

from common import Up, auth_headers, bus_idle, bus_row, cchc_up, healthy, nats_connect, print_rows, until

MONTHS = 12
STAGES = ("stored", "outbox", "relayed", "stream", "visible", "notify")


def plan(province: str, year: int, tasks: int, round_: int) -> dict[str, Any]:
    task = {"lead": ["children"], "timeline": "hằng tháng", "products": [{"kind": "article", "target": 1}]}
    return {
        "number": f"{100 + round_}/KH-UBND",
        "title": f"Kế hoạch tuyên truyền cải cách hành chính hằng tháng năm {year} (benchmark, đợt {round_ + 1})",
        "issuer": province,
        "period": str(year),
        "tasks": [{"ref": str(i + 1), "title": f"Tin bài CCHC số {i + 1}", **task} for i in range(tasks)],
    }


COUNTS = """
SELECT (SELECT count(*) FROM tasks.assignments) AS stored,
       (SELECT count(*) FROM tasks.outbox WHERE family = 'assignment') AS outbox,
       (SELECT count(*) FROM tasks.outbox WHERE family = 'assignment' AND published_at IS NOT NULL) AS relayed,
       (SELECT count(*) FROM reports.assignments) AS visible,
       (SELECT count(*) FROM notify.notifications WHERE kind = 'assigned') AS notify
"""


async def counts(db: asyncpg.Connection, js: Any, stream: str) -> dict[str, int]:
    found = dict(await db.fetchrow(COUNTS))
    found["stream"] = (await js.stream_info(stream)).state.messages
    return found


async def one_round(
    args: argparse.Namespace, up: Up, api: httpx.AsyncClient, provinces: list[str], round_: int
) -> dict[str, Any]:
    year = datetime.now(VN).year + 1
    db = await asyncpg.connect(plain_url(up.db_url))
    nc = await nats_connect(up.nats_url)
    try:
        js, stream = nc.jetstream(), stream_name(up.prefix, "assignment")
        created = await asyncio.gather(
            *(api.post("/api/plans", json=plan(p, year, args.tasks, round_)) for p in provinces)
        )
        plan_ids = [r.raise_for_status().json()["id"] for r in created]
        before = await counts(db, js, stream)
        cpu_before = up.cpu()
        print(f"round {round_ + 1}: issuing {len(plan_ids)} plans", file=sys.stderr, flush=True)  # for profilers
        t0 = time.monotonic()
        issued = await asyncio.gather(*(api.post(f"/api/plans/{i}/issue") for i in plan_ids))
        for reply in issued:
            reply.raise_for_status()
        reached: dict[str, float] = {"issued": time.monotonic() - t0}
        cpu: dict[str, dict[str, float]] = {}
        total: int = args.expected  # 12 × T per commune
        deadline = t0 + args.timeout
        while time.monotonic() < deadline:
            now = await counts(db, js, stream)
            at = time.monotonic() - t0
            added = {k: now[k] - before[k] for k in now}
            for stage in STAGES:
                if stage not in reached and added[stage] >= total:
                    reached[stage] = at
                    if stage == "visible":
                        cpu["visible"] = up.cpu()
                    if stage == "notify":
                        cpu["notify"] = up.cpu()
            if all(s in reached for s in STAGES):
                break
            await asyncio.sleep(0.1)
        rolled = await asyncio.gather(
            *(api.get("/api/reports/rollup", params={"unit": p, "period": str(year)}) for p in provinces)
        )
        # the year's roll-ups hold the earlier rounds' plans too
        reached["roll-up sum"] = sum(int(r.raise_for_status().json()["expected"]) for r in rolled) - round_ * total
        used = {
            name: cpu.get("visible", up.cpu()).get(name, 0.0) - cpu_before.get(name, 0.0)
            for name in ("plans", "tasks", "reports", "postgres", "nats", "gateway")
        }
        used["notify"] = cpu.get("notify", up.cpu()).get("notify", 0.0) - cpu_before.get("notify", 0.0)
        return {"reached": reached, "total": total, "cpu": used}
    finally:
        await db.close()
        await nc.close()


async def run(args: argparse.Namespace, up: Up) -> dict[str, str]:
    rows: dict[str, str] = {}
    provinces = args.provinces or sorted(f"{int(p.code):02d}" for p in Province.iter_all())
    async with httpx.AsyncClient(base_url=up.base_url, timeout=300, headers=auth_headers(up.base_url)) as api:
        await until(lambda: healthy(api), 120, 0.3)
        t0 = time.monotonic()
        loaded = (await api.post("/api/units/load", json={"provinces": provinces})).raise_for_status().json()
        await until(lambda: bus_idle(up.nats_url, up.prefix), args.timeout, 0.5)
        replies = await asyncio.gather(*(api.get("/api/units", params={"parent": p}) for p in provinces))
        communes = sum(
            len([u for u in r.raise_for_status().json()["items"] if u["level"] == "commune"]) for r in replies
        )
        args.expected = communes * MONTHS * args.tasks
        rows["units"] = (
            f"{len(provinces)} provinces, {loaded['loaded']} units, {communes} communes: bus idle after"
            f" {time.monotonic() - t0:.1f} s; a round makes {args.expected} assignments"
        )
        results = []
        for round_ in range(args.rounds):
            load = "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())
            result = await one_round(args, up, api, provinces, round_)
            results.append(result)
            r = result["reached"]
            rows[f"round {round_ + 1}"] = (
                " · ".join(f"{k} {v:.1f} s" for k, v in r.items() if k != "roll-up sum")
                + f" · roll-up sum {r['roll-up sum']} ({load} before)"
            )
            rows[f"cpu {round_ + 1}"] = ", ".join(f"{k} {v:.1f}" for k, v in result["cpu"].items()) + " CPU-s"
            await until(lambda: bus_idle(up.nats_url, up.prefix), args.timeout, 0.5)
        for stage in ("issued", *STAGES):
            times = [x["reached"][stage] for x in results if stage in x["reached"]]
            if times:
                rows[stage] = f"median {statistics.median(times):.1f} s over {len(times)} rounds"
    rows["bus"] = await bus_row(up.nats_url, up.prefix)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="national plans issued one after another (R)")
    parser.add_argument("--tasks", type=int, default=1, help="monthly tasks per plan (T)")
    parser.add_argument("--provinces", type=lambda s: s.split(","), default=None, help="default: all 34")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for each step")
    args = parser.parse_args()
    with cchc_up({"CCHC_SWEEP_INTERVAL_SECONDS": "60"}) as up:
        rows = asyncio.run(run(args, up))
        rows["services"] = up.services_row()
    print_rows(rows, 10)


if __name__ == "__main__":
    main()
