"""Benchmark: progress-report ingestion through the API and through events (not a timed test).

Starts a real `cchc up` (embedded NATS and PostgreSQL, or CCHC_NATS_URL + CCHC_DATABASE_URL with a
fresh database and subject prefix), loads province 52 (135 communes), issues a plan for next year
whose k monthly tasks are led by "children" (135 x 12 x k assignments, at least N), then measures:

  api       N progress reports POSTed through the gateway by C concurrent workers: reports/s, latency
  events    first POST until the province roll-up shows reported == N: progress.reported applied/s
  visible   K single reports, two a second (normal load): from the POST's answer until the province
            roll-up counts it (tasks → outbox → JetStream → reports, batched)
  consumer  M corrections published straight to JetStream until the roll-up's outputs show them
            (the reports consumer alone, without the tasks service and its outbox relay); with M > N
            the assignments past the N reported get their first report (article 2) this way
  assigned  F assignment.created published straight to JetStream (new assignments of the communes,
            as tasks publishes them when a plan is issued) until the roll-up expects them: the
            reports consumer alone on a fan-out
  sustained with --rate R --seconds S: R first reports a second for S seconds, open loop (each
            POST sent on its schedule, whether or not the ones before have answered): the rate
            achieved, the POSTs' latency from their scheduled time, and the lag from each POST's
            answer until the report is counted — the province roll-up's `reported` polled every
            50 ms (`--counted-by rollup`) or the reports read model's rows (`db`); the k-th answer
            is counted once the count has grown by k. The load average is sampled meanwhile.

    .venv/bin/python bench/ingest_progress.py [--reports N] [--concurrency C] [--corrections M] [--visibility K]
        [--fanout F] [--rate R --seconds S [--counted-by rollup|db]]

`--reports 0 --corrections 0 --visibility 0 --rate 200 --seconds 300` is the issue's ingest target.

`--reports 0 --visibility 0 --corrections M --fanout F` measures the reports consumer alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from shared.clock import VN
from shared.db import plain_url
from shared.events import AssignmentCreated, ProgressReported, UnitRef, make_event, subject

from common import auth_headers, bus_idle, bus_row, cchc_up, healthy, nats_connect, print_rows, until

PROVINCE, COMMUNES, MONTHS = "52", 135, 12


def plan(year: int, tasks: int) -> dict[str, Any]:
    task = {"lead": ["children"], "timeline": "hằng tháng", "products": [{"kind": "article", "target": 1}]}
    return {
        "number": "99/KH-UBND",
        "title": f"Kế hoạch tuyên truyền cải cách hành chính năm {year} (benchmark)",
        "issuer": PROVINCE,
        "period": str(year),
        "tasks": [{"ref": str(i + 1), "title": f"Tin bài CCHC số {i + 1}", **task} for i in range(tasks)],
    }


def assignment(prefix: str, year: int, n: int, communes: list[str]) -> tuple[str, bytes, dict[str, str]]:
    """A new monthly assignment of a commune, as the tasks service publishes it when a plan is issued."""
    code, month = communes[n % len(communes)], n // len(communes) % MONTHS + 1
    path, now = f"{PROVINCE}.{code}", datetime.now(UTC)
    payload = AssignmentCreated(
        assignment_id=uuid.uuid4(),
        plan_id=uuid.uuid4(),
        plan_number="100/KH-UBND",
        task_ref=str(n // (len(communes) * MONTHS) + 1),
        task_title="Tin bài CCHC (benchmark, straight to JetStream)",
        unit=UnitRef(code=code, path=path),
        role="lead",
        period=f"{year}-{month:02d}",
        due=date(year, month, 28),
    )
    event = make_event("assignment.created", unit_path=path, producer="tasks", payload=payload, at=now)
    headers = {"Nats-Msg-Id": str(event.id), "content-type": "application/json"}
    return subject(prefix, "assignment.created", path), event.model_dump_json().encode(), headers


async def published(nats_url: str, messages: list[tuple[str, bytes, dict[str, str]]]) -> float:
    """Publish as the tasks service's NATS user, 500 PubAcks outstanding at most; when done."""
    nc = await nats_connect(nats_url, "tasks")
    try:
        js = nc.jetstream()
        for start in range(0, len(messages), 500):
            await asyncio.gather(*(js.publish(s, data, headers=h) for s, data, h in messages[start : start + 500]))
        return time.monotonic()
    finally:
        await nc.close()


def correction(prefix: str, a: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
    """A later progress.reported for an assignment (article 1 -> 2), as the tasks service would publish it."""
    path, now = f"{PROVINCE}.{a['unit']}", datetime.now(UTC)
    payload = ProgressReported.model_validate(
        {**a, "report_id": uuid.uuid4(), "assignment_id": a["id"], "unit": UnitRef(code=a["unit"], path=path)}
        | {"status": "done", "outputs": {"article": 2}, "reported_at": now, "on_time": True}
    )
    event = make_event("progress.reported", unit_path=path, producer="tasks", payload=payload, at=now)
    headers = {"Nats-Msg-Id": str(event.id), "content-type": "application/json"}
    return subject(prefix, "progress.reported", path), event.model_dump_json().encode(), headers


async def run(
    args: argparse.Namespace,
    base_url: str,
    nats_url: str,
    prefix: str,
    db_url: str,
    cpu: Callable[..., dict[str, float]],
    data_dir: Path,
) -> dict[str, str]:
    year = datetime.now(VN).year + 1
    sustained = int(args.rate * args.seconds)
    needed = max(args.reports + args.visibility + sustained, args.corrections)
    tasks = max(1, math.ceil(needed / (COMMUNES * MONTHS)))
    n, total, rows = args.reports, COMMUNES * MONTHS * tasks, {}
    connections = args.concurrency + 4
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = auth_headers(base_url)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits, headers=headers) as api:

        async def province() -> dict[str, Any]:
            return (await api.get("/api/reports/rollup", params={"unit": PROVINCE, "period": str(year)})).json()

        async def rollup(key: str, at_least: Callable[[], int]) -> bool:
            body = await province()
            return (
                int(body.get("outputs", {}).get("article", 0) if key == "article" else body.get(key, 0)) >= at_least()
            )

        idle = partial(bus_idle, nats_url, prefix)
        await until(lambda: healthy(api), 120, 0.3)
        (await api.post("/api/units/load", json={"provinces": [PROVINCE]})).raise_for_status()
        communes = [u["code"] for u in (await api.get("/api/units", params={"parent": PROVINCE})).json()["items"]]
        assert len(communes) == COMMUNES, len(communes)
        created = (await api.post("/api/plans", json=plan(year, tasks))).raise_for_status()
        t0 = time.monotonic()
        (await api.post(f"/api/plans/{created.json()['id']}/issue")).raise_for_status()

        async def of_unit(code: str) -> list[dict[str, Any]]:
            """A commune's assignments, page after page (at most 500 a page)."""
            items: list[dict[str, Any]] = []
            params: dict[str, Any] = {"unit": code, "limit": 500}
            while True:
                page = (await api.get("/api/assignments", params=params)).json()
                items += page["items"]
                if not page.get("next_cursor"):
                    return items
                params["cursor"] = page["next_cursor"]

        async def assigned(units: list[str]) -> list[list[dict[str, Any]]] | None:
            lists = await asyncio.gather(*(of_unit(c) for c in units))
            return lists if all(len(items) == MONTHS * tasks for items in lists) else None

        await until(lambda: assigned(communes[-1:]), args.timeout)  # one transaction stores them all
        t_stored = time.monotonic()
        await until(lambda: rollup("expected", lambda: total), args.timeout)
        t_rolled = time.monotonic()
        await until(idle, args.timeout, 0.5)  # notify has drained assignment.created too
        rows["fan-out"] = f"{total} assignments: stored {t_stored - t0:.1f} s, in the roll-up {t_rolled - t0:.1f} s"
        per_unit = await assigned(communes)
        assert per_unit is not None
        spread = [a for month in zip(*per_unit, strict=True) for a in month]  # spread out
        chosen = spread[: max(n + args.visibility, args.corrections)]
        steady = spread[len(chosen) : len(chosen) + sustained]  # assignments no other phase reports on

        latencies: list[float] = []
        errors: dict[int, int] = {}
        todo = iter(chosen[:n])

        async def worker() -> None:
            for a in todo:
                start = time.perf_counter()
                reply = await api.post(
                    f"/api/assignments/{a['id']}/progress",
                    json={"period": a["period"], "status": "done", "outputs": {"article": 1}},
                )
                latencies.append(time.perf_counter() - start)
                if reply.status_code != 201:
                    errors[reply.status_code] = errors.get(reply.status_code, 0) + 1

        async def events_applied() -> float:
            await until(lambda: rollup("reported", lambda: n - sum(errors.values())), 3600)
            return time.monotonic()

        if n:
            t_first = time.monotonic()
            caught_up = asyncio.create_task(events_applied())
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            t_api = time.monotonic()
            t_events = await caught_up
            q, api_s, ev_s = statistics.quantiles(latencies, n=100), t_api - t_first, t_events - t_first
            rows["api"] = (
                f"{n} reports, C={args.concurrency}: {api_s:.1f} s, {n / api_s:.0f} reports/s,"
                f" p50 {q[49] * 1e3:.0f} ms, p95 {q[94] * 1e3:.0f} ms, max {max(latencies) * 1e3:.0f} ms,"
                f" errors {errors or 0}"
            )
            rows["events"] = (
                f"reported == {n} after {ev_s:.1f} s: {n / ev_s:.0f} events/s (lag {t_events - t_api:.1f} s)"
            )

        if k := min(args.visibility, len(chosen) - n):
            # Normal load: one report at a time, two a second; how long until the province sees it.
            await until(idle, args.timeout, 0.5)
            seen: list[float] = []
            for a in chosen[n : n + k]:
                before = int((await province())["reported"])
                reply = await api.post(
                    f"/api/assignments/{a['id']}/progress",
                    json={"period": a["period"], "status": "done", "outputs": {"article": 1}},
                )
                reply.raise_for_status()
                t_ok = time.monotonic()
                await until(lambda b=before: rollup("reported", lambda: b + 1), 60, 0.01)
                t_seen = time.monotonic()
                seen.append(t_seen - t_ok)
                await asyncio.sleep(0.5)
            v = statistics.quantiles(seen, n=100)
            rows["visible"] = (
                f"{k} single reports, 2/s: in the province roll-up p50 {v[49] * 1e3:.0f} ms,"
                f" p95 {v[94] * 1e3:.0f} ms, max {max(seen) * 1e3:.0f} ms after the POST returned"
            )
            n += k

        if m := min(args.corrections, len(chosen)):
            await until(idle, args.timeout, 0.5)
            articles = int((await province())["outputs"].get("article", 0))
            grows = m + max(0, m - n)  # a reported article 1 becomes 2; one not reported yet comes as 2
            messages = [correction(prefix, a) for a in chosen[:m]]
            t_pub = time.monotonic()
            t_published = await published(nats_url, messages)
            await until(lambda: rollup("article", lambda: articles + grows), args.timeout)
            t_applied = time.monotonic()
            c_s = t_applied - t_pub
            rows["consumer"] = f"{m} published in {t_published - t_pub:.1f} s, applied {c_s:.1f} s: {m / c_s:.0f}/s"

        if f := args.fanout:
            await until(idle, args.timeout, 0.5)
            expected = int((await province())["expected"])
            messages = [assignment(prefix, year, i, communes) for i in range(f)]
            t_pub = time.monotonic()
            t_published = await published(nats_url, messages)
            await until(lambda: rollup("expected", lambda: expected + f), args.timeout)
            a_s = time.monotonic() - t_pub
            rows["assigned"] = f"{f} published in {t_published - t_pub:.1f} s, applied {a_s:.1f} s: {f / a_s:.0f}/s"
        if steady:
            await until(idle, args.timeout, 0.5)
            rows |= await sustain(args, api, steady, province, db_url, cpu, data_dir)
    rows["bus"] = await bus_row(nats_url, prefix)
    return rows


def quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"{len(values)} values"
    q = statistics.quantiles(values, n=100)
    return (
        f"p50 {q[49] * 1e3:.0f} ms, p95 {q[94] * 1e3:.0f} ms, p99 {q[98] * 1e3:.0f} ms, max {max(values) * 1e3:.0f} ms"
    )


async def tasks_service(api: httpx.AsyncClient, data_dir: Path) -> tuple[str, dict[str, str]]:
    """The tasks service's own address and the signed token the gateway gets for the bench's
    credential from plans (valid long enough for the phase: auth.ACCESS_SECONDS)."""
    services = json.loads((data_dir / "services.json").read_text())
    secret = (data_dir / "secrets" / "gateway.secret").read_text().strip()
    credential = api.headers["authorization"].removeprefix("Bearer ")
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(
            f"http://127.0.0.1:{services['plans']['port']}/internal/auth/exchange",
            json={"credential": credential},
            headers={"x-cchc-gateway": secret},
        )
    token = answer.raise_for_status().json()["token"]
    return f"http://127.0.0.1:{services['tasks']['port']}", {"Authorization": f"Bearer {token}"}


async def sustain(
    args: argparse.Namespace,
    api: httpx.AsyncClient,
    todo: list[dict[str, Any]],
    province: Callable[[], Awaitable[dict[str, Any]]],
    db_url: str,
    cpu: Callable[..., dict[str, float]],
    data_dir: Path,
) -> dict[str, str]:
    """First reports at `args.rate` a second for `args.seconds`, open loop; the lag of each until counted."""
    db = await asyncpg.connect(plain_url(db_url))

    async def counted() -> int:
        if args.counted_by == "db":
            return int(await db.fetchval("SELECT count(*) FROM reports.progress"))
        return int((await province())["reported"])

    base = await counted()
    answered: list[float] = []  # monotonic time of each 201, in the order they came
    latencies: list[float] = []  # from the scheduled send to the answer
    errors: Counter[int | str] = Counter()
    lags: list[float] = []
    polls: list[float] = []
    loads: list[float] = []
    sending = True

    # At most this many POSTs open at once: past it a send waits for a place, still timed from its
    # schedule (a system that falls behind shows as latency, not as an ever longer client queue).
    open_ = asyncio.Semaphore(args.in_flight)
    # Several small connection pools: httpcore matches each request against every connection of
    # its pool, and with 200 in one pool that alone took this process's whole core.
    shards = max(1, args.in_flight // 16)
    pool = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    base_url, headers = str(api.base_url), dict(api.headers)
    if args.direct:  # straight to the tasks service, with the signed token the gateway would send
        base_url, headers = await tasks_service(api, data_dir)
    clients = [httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60, limits=pool) for _ in range(shards)]

    async def post(a: dict[str, Any], scheduled: float, client: httpx.AsyncClient) -> None:
        try:
            async with open_:
                reply = await client.post(
                    f"/api/assignments/{a['id']}/progress",
                    json={"period": a["period"], "status": "done", "outputs": {"article": 1}},
                )
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] += 1
            return
        now = time.monotonic()
        latencies.append(now - scheduled)
        if reply.status_code == 201:
            answered.append(now)
        else:
            errors[reply.status_code] += 1

    async def watch() -> None:
        """Poll the count; each answer is counted when the count has grown past its ordinal."""
        seen = 0
        while sending or seen < len(answered):
            start = time.monotonic()
            try:
                grown = await counted() - base
            except (httpx.HTTPError, KeyError):  # the roll-up not answering (a 503) is not yet
                await asyncio.sleep(0.05)
                continue
            now = time.monotonic()
            polls.append(now - start)
            while seen < min(grown, len(answered)):
                lags.append(max(0.0, now - answered[seen]))
                seen += 1
            if not sending and now - (answered[-1] if answered else now) > args.timeout:
                break
            await asyncio.sleep(max(0.0, 0.05 - (now - start)))

    async def sample_load() -> None:
        while sending:
            loads.append(os.getloadavg()[0])
            await asyncio.sleep(5)

    print(f"sustained phase: {len(todo)} reports at {args.rate:g}/s", file=sys.stderr, flush=True)  # for profilers
    watcher, sampler = asyncio.create_task(watch()), asyncio.create_task(sample_load())
    posts: list[asyncio.Task[None]] = []
    cpu_before = cpu(machine=True)
    t0 = time.monotonic()
    for i, a in enumerate(todo):
        scheduled = t0 + i / args.rate
        if (wait := scheduled - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        posts.append(asyncio.create_task(post(a, scheduled, clients[i % shards])))
    await asyncio.gather(*posts)
    t_sent = time.monotonic()
    cpu_after = cpu(machine=True)
    sending = False
    await asyncio.gather(watcher, sampler)
    await db.close()
    for client in clients:
        await client.aclose()
    ok = len(answered)
    window = [t for t in answered if t <= t0 + args.seconds]
    return {
        "sustained": (
            ("straight to tasks: " if args.direct else "through the gateway: ")
            + f"{len(todo)} first reports scheduled at {args.rate:g}/s for {args.seconds:g} s: {ok} answered 201 in"
            f" {t_sent - t0:.1f} s ({len(window) / args.seconds:.0f}/s within the {args.seconds:g} s), errors"
            f" {dict(errors) or 0}; POST latency from its schedule {quantiles(latencies)}"
        ),
        "counted": (
            f"from the POST's answer until counted ({args.counted_by}): {quantiles(lags)} over {len(lags)};"
            f" a poll took {quantiles(polls)}"
        ),
        "cpu": f"while sending ({t_sent - t0:.0f} s), CPU-s: "
        + ", ".join(f"{k} {cpu_after.get(k, 0) - v:.1f}" for k, v in cpu_before.items()),
        "load": (
            f"load average during: min {min(loads, default=0):.2f}, median"
            f" {statistics.median(loads) if loads else 0:.2f}, max {max(loads, default=0):.2f}"
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=5000, help="progress reports to POST (N)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent HTTP workers (C)")
    parser.add_argument("--corrections", type=int, default=5000, help="progress events published directly (0 = skip)")
    parser.add_argument("--fanout", type=int, default=0, help="assignment.created published directly (F, 0 = skip)")
    parser.add_argument("--visibility", type=int, default=100, help="single reports timed until the roll-up shows them")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for each set-up/catch-up step")
    parser.add_argument("--rate", type=float, default=0, help="sustained phase: first reports a second (R, 0 = skip)")
    parser.add_argument("--seconds", type=float, default=300, help="sustained phase: for how long (S)")
    parser.add_argument(
        "--direct", action="store_true", help="sustained phase: POST to the tasks service itself, not the gateway"
    )
    parser.add_argument("--in-flight", type=int, default=64, help="sustained phase: most POSTs open at once")
    parser.add_argument(
        "--counted-by", choices=("rollup", "db"), default="rollup", help="sustained phase: what says a report counts"
    )
    args = parser.parse_args()
    with cchc_up({"CCHC_SWEEP_INTERVAL_SECONDS": "60"}) as up:
        rows = asyncio.run(run(args, up.base_url, up.nats_url, up.prefix, up.db_url, up.cpu, up.data_dir))
        rows["services"] = up.services_row()
    print_rows(rows, 9)


if __name__ == "__main__":
    main()
