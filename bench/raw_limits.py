"""Benchmark: the raw limits of NATS JetStream and PostgreSQL beside the project's own paths, in
the same run and on the same servers (not a timed test).

Starts a real `cchc up` (embedded NATS and PostgreSQL, or CCHC_NATS_URL + CCHC_DATABASE_URL with a
fresh database and subject prefix) and takes N progress events of the national data set
(bench/national.py: 34 provinces, 3,321 communes, reports then corrections, reported_at rising).

Raw (nats-py and asyncpg alone, no service code; a stream and a schema of the bench's own):
  publish   the N events into a stream like the project's (file storage, 2-minute de-dup
            window), async publish with at most 2,000 PubAcks outstanding: events/s
  apply     a durable pull consumer from the start of that stream, fetch B (1 and 100); per batch
            one transaction: the inbox insert (ON CONFLICT DO NOTHING RETURNING, as
            shared/outbox.py claims), the upsert of the progress rows (the reports handler's
            newest-wins upsert: one set-based statement, or, as a one-event handler does, one
            per event; and that again with each message through the bus's decode, pydantic
            and provenance checks), commit, then an ack per message: events/s
  read      a point read of one progress row by its key: latency

The project (the services as `cchc up` runs them), on the same data:
  setup     the 34 provinces through POST /api/units/load; the plans, their tasks and the
            assignments of the data set written into schema `reports` with COPY (bench/rollup_queries.py's
            row builders, checked there against the event path by its canary)
  publish   the first P of the events into the project's progress stream as the tasks service's NATS user,
            while the reports and notify services are paused (SIGSTOP): events/s
  apply     the reports service resumed on that full stream until its progress consumers have
            acked everything: events/s. Notify stays paused (its progress consumers only settle
            escalations), so the reports service has the machine to itself, as the raw pipeline
            had. Runs after the first: reports paused, its progress rows, their inbox rows and
            its two progress consumers reset, then resumed
  rollup    GET /api/reports/rollup of the largest province for the year: latency
  rebuild   the assignments' assignment.created published too (reports paused), then
            `cchc rebuild-reports` (services/reports/rebuild.py) with reports paused, the service
            killed and restarted by `cchc up`: every event of the streams applied again (units,
            assignments, progress, audit), events/s from the first event applied to the last, as
            `cchc rebuild-reports --watch` follows it (and from the kill, the restart included);
            the units, assignments and progress rows are checked afterwards

Prints path, raw figure, project figure and project/raw; each figure is the median of the runs.
Writes build/raw_limits.json with the machine, the commit and the date.

    .venv/bin/python bench/raw_limits.py [--events N] [--batch1-events M] [--project-events P] [--runs R]

Defaults: N = 100,000, M = 2,000, P = 20,000, R = 3, one rebuild; the raw per-event and decode
variants on the first 10,000 events (--variant-events). On 2 shared cores (load 5–7) this ran
in 8.8 minutes: the units load (~75 s), the rebuild (~110 s) and the roll-up (3–5 s a request)
take most of it:

    .venv/bin/python bench/raw_limits.py --events 30000 --project-events 0 --query-runs 5 --warmup 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import psutil
from national import Dataset, Summary, publish
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from rollup_queries import (
    ASSIGNMENT_COLUMNS,
    PLAN_COLUMNS,
    PLAN_TASK_COLUMNS,
    assignment_row,
    plan_row,
    plan_task_rows,
)
from sqlalchemy.ext.asyncio import async_sessionmaker

from cchc.nats_users import operator_settings
from services.reports import aggregates
from services.reports.handlers import subscriptions
from services.reports.rebuild import rebuild, watch
from shared.bus import decode, reconcile_consumers
from shared.db import make_engine, plain_url
from shared.nats_security import reload_server
from shared.settings import Settings

from common import Up, auth_headers, bus_state, cchc_up, healthy, nats_connect, print_rows, until

ROOT = Path(__file__).resolve().parent.parent
RAW_USER = "bench-raw"


# --- small helpers ---------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def commit() -> str:
    """The commit of the code that ran, "+changes" if its tracked code differs from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    changed = subprocess.run(
        ["git", "diff", "--quiet", "HEAD", "--", "shared", "services", "cchc", "bench"], cwd=ROOT, check=False
    )
    return (head.stdout.strip() or "unknown") + ("+changes" if changed.returncode else "")


def load() -> float:
    return os.getloadavg()[0]


def say(what: str) -> None:
    """Where the run is (stderr, as it goes)."""
    print(f"{datetime.now(UTC):%H:%M:%S} {what} (load {load():.1f})", file=sys.stderr, flush=True)


@dataclass
class Figure:
    """One row of the table: a raw figure, the project's figure of the same thing, and the runs."""

    path: str
    unit: str
    raw: list[float] = field(default_factory=list)
    project: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    note: str = ""

    def ratio(self) -> float | None:
        if not self.raw or not self.project:
            return None
        return median(self.project) / median(self.raw)

    def json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "unit": self.unit,
            "raw_median": median(self.raw) if self.raw else None,
            "project_median": median(self.project) if self.project else None,
            "ratio": self.ratio(),
            "raw_runs": self.raw,
            "project_runs": self.project,
            "load_1min": self.loads,
            "note": self.note,
        }


def shown(values: list[float], unit: str) -> str:
    if not values:
        return "—"
    value = median(values)
    return f"{value:,.2f} {unit}" if value < 10 else f"{value:,.0f} {unit}"


# --- the raw pipeline ------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """The bench's own stream, subjects and schema on the project's servers."""

    tag: str  # e.g. raw1a2b3c4d

    @property
    def stream(self) -> str:
        return self.tag.upper()

    @property
    def prefix(self) -> str:
        return self.tag

    @property
    def schema(self) -> str:
        return self.tag


async def raw_connection(up: Up, raw: Raw) -> Any:
    """A NATS connection that may use the bench's stream. The embedded server has users (the
    services may touch only their own subjects): a user of the bench's own is added to its
    authorization file and the server reloads it, as `cchc nats grant-reader` does for readers.
    External servers are used as they are (anonymous)."""
    auth = up.data_dir / "secrets" / "nats" / "auth.conf"
    if os.environ.get("CCHC_NATS_URL") or not auth.exists():
        return await nats.connect(up.nats_url)
    password = uuid.uuid4().hex
    head, _, body = auth.read_text().partition("authorization: ")
    config = json.loads(body)
    config["users"] = [u for u in config["users"] if u["user"] != RAW_USER] + [
        {
            "user": RAW_USER,
            "password": password,
            "permissions": {
                "publish": {"allow": [f"{raw.prefix}.>", "$JS.API.>", f"$JS.ACK.{raw.stream}.>"]},
                "subscribe": {"allow": [f"_INBOX_{RAW_USER}.>"]},
            },
        }
    ]
    auth.write_text(f"{head}authorization: {json.dumps(config, indent=2)}\n")
    if not reload_server(up.data_dir / "nats.pid"):
        raise RuntimeError("could not reload the embedded nats-server")

    async def connected() -> Any:
        try:
            return await nats.connect(
                up.nats_url,
                user=RAW_USER,
                password=password,
                inbox_prefix=f"_INBOX_{RAW_USER}".encode(),
                allow_reconnect=False,
                max_reconnect_attempts=0,
            )
        except Exception:  # noqa: BLE001 - not reloaded yet
            return None

    return await until(connected, 30, 0.2)


DDL = """
CREATE SCHEMA {s};
CREATE TABLE {s}.inbox (LIKE reports.inbox INCLUDING ALL);
CREATE TABLE {s}.progress (LIKE reports.progress INCLUDING ALL);
"""

CLAIM = """
INSERT INTO {s}.inbox (event_id, subject)
SELECT * FROM unnest($1::uuid[], $2::text[])
ON CONFLICT DO NOTHING
RETURNING event_id
"""

# services/reports/handlers.py progress_reported: one statement for the batch (ROWS), or one
# per event (VALUES), as a one-event handler does
ROWS = """
SELECT a, r, st, o::jsonb, f, l, d, n, re, g
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
            $7::timestamptz[], $8::text[], $9::text[], $10::text[]) AS t(a, r, st, o, f, l, d, n, re, g)
"""
VALUES = "VALUES ($1::uuid, $2::uuid, $3, $4::jsonb, $5::timestamptz, $6::timestamptz, $7::timestamptz, $8, $9, $10)"
UPSERT = """
INSERT INTO {s}.progress AS p
  (assignment_id, report_id, status, outputs, first_reported_at, last_reported_at, done_at, note, reason, good_model)
{rows}
ON CONFLICT (assignment_id) DO UPDATE SET
  report_id = CASE WHEN excluded.last_reported_at > p.last_reported_at THEN excluded.report_id ELSE p.report_id END,
  status = CASE WHEN excluded.last_reported_at > p.last_reported_at THEN excluded.status ELSE p.status END,
  outputs = CASE WHEN excluded.last_reported_at > p.last_reported_at THEN excluded.outputs ELSE p.outputs END,
  note = CASE WHEN excluded.last_reported_at > p.last_reported_at THEN excluded.note ELSE p.note END,
  reason = CASE WHEN excluded.last_reported_at > p.last_reported_at THEN excluded.reason ELSE p.reason END,
  good_model = CASE WHEN excluded.last_reported_at > p.last_reported_at THEN excluded.good_model
                    ELSE p.good_model END,
  done_at = CASE WHEN excluded.last_reported_at > p.last_reported_at THEN excluded.done_at ELSE p.done_at END,
  last_reported_at = greatest(p.last_reported_at, excluded.last_reported_at),
  first_reported_at = least(p.first_reported_at, excluded.first_reported_at)
"""


def rows_of(messages: list[Any]) -> tuple[list[str], list[str], dict[str, list[Any]]]:
    """Event ids, subjects and each event's progress row (json.loads, no validation)."""
    ids, subjects, rows = [], [], {}
    for msg in messages:
        envelope = json.loads(msg.data)
        p = envelope["payload"]
        at = datetime.fromisoformat(p["reported_at"])
        done = (datetime.fromisoformat(p["done_at"]) if p.get("done_at") else at) if p["status"] == "done" else None
        ids.append(envelope["id"])
        subjects.append(msg.subject)
        rows[envelope["id"]] = [
            p["assignment_id"],
            p["report_id"],
            p["status"],
            json.dumps(p["outputs"]),
            at,
            at,
            done,
            p.get("note", ""),
            p.get("reason", ""),
            p.get("good_model", ""),
        ]
    return ids, subjects, rows


def merged(rows: list[list[Any]]) -> list[list[Any]]:
    """One row per assignment (a statement may not upsert a row twice): the newest report's
    columns, the earliest first_reported_at, as applying them one after another would leave."""
    by_assignment: dict[str, list[Any]] = {}
    for row in sorted(rows, key=lambda r: r[5]):
        held = by_assignment.get(row[0])
        by_assignment[row[0]] = row if held is None else [*row[:4], min(held[4], row[4]), *row[5:]]
    return list(by_assignment.values())


async def apply_raw(
    nc: Any,
    db: asyncpg.Connection,
    raw: Raw,
    *,
    batch: int,
    count: int,
    durable: str,
    per_event: bool = False,
    decoded: bool = False,
) -> tuple[float, int]:
    """Fetch `count` events from the start of the raw stream, `batch` at a time, apply each
    batch in one transaction (the claim in one statement; the upsert in one statement, or with
    `per_event` one per event) and ack; returns (seconds, progress rows). With `decoded`, each
    message also goes through the bus's own checks first (shared.bus.decode: the envelope and
    payload validated by pydantic, producer and unit against the subject)."""
    js = nc.jetstream()
    await db.execute(f"TRUNCATE {raw.schema}.inbox, {raw.schema}.progress")
    config = ConsumerConfig(
        durable_name=durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=30.0,
        max_ack_pending=1000,  # as the project's consumers
        filter_subject=f"{raw.prefix}.progress.>",
    )
    sub = await js.pull_subscribe(f"{raw.prefix}.progress.>", durable=durable, stream=raw.stream, config=config)
    claim = CLAIM.format(s=raw.schema)
    upsert = UPSERT.format(s=raw.schema, rows=ROWS)
    upsert_one = UPSERT.format(s=raw.schema, rows=VALUES)
    done = 0
    start = time.perf_counter()
    try:
        while done < count:
            messages = await sub.fetch(min(batch, count - done), timeout=10)
            if decoded:
                for msg in messages:
                    if isinstance(why := decode(msg.data, subject_=msg.subject, prefix=raw.prefix), str):
                        raise RuntimeError(why)
            ids, subjects, rows = rows_of(messages)
            async with db.transaction():
                fresh = {str(r["event_id"]) for r in await db.fetch(claim, ids, subjects)}
                if per_event:
                    for i in ids:
                        if i in fresh:
                            fresh.discard(i)  # the same event twice in a batch: once
                            await db.execute(upsert_one, *rows[i])
                elif wanted := merged([rows[i] for i in ids if i in fresh]):
                    await db.execute(upsert, *map(list, zip(*wanted, strict=True)))
            for msg in messages:
                await msg.ack()
            done += len(messages)
        await nc.flush()
        seconds = time.perf_counter() - start
    finally:
        await sub.unsubscribe()
        with contextlib.suppress(Exception):
            await js.delete_consumer(raw.stream, durable)
    stored = await db.fetchval(f"SELECT count(*) FROM {raw.schema}.progress")
    claimed = await db.fetchval(f"SELECT count(*) FROM {raw.schema}.inbox")
    if claimed != count:
        raise RuntimeError(f"raw apply: {claimed} inbox rows for {count} events")
    return seconds, stored


async def raw_part(
    args: argparse.Namespace, up: Up, messages: list[tuple[str, bytes, dict[str, str]]], figures: dict[str, Figure]
) -> dict[str, str]:
    rows: dict[str, str] = {}
    raw = Raw(f"raw{uuid.uuid4().hex[:8]}")
    nc = await raw_connection(up, raw)
    db = await asyncpg.connect(plain_url(up.db_url))
    js = nc.jetstream(publish_async_max_pending=args.in_flight)
    try:
        await db.execute(DDL.format(s=raw.schema))
        await js.add_stream(
            StreamConfig(
                name=raw.stream,
                subjects=[f"{raw.prefix}.>"],
                storage=StorageType.FILE,
                duplicate_window=120.0,  # as the project's streams
            )
        )
        say(f"raw publish: {len(messages):,} events × {args.runs}")
        # publish: each run into the emptied stream, with ids of its own (the de-dup window
        # would drop a message id seen in the last two minutes)
        for run in range(args.runs):
            await js.purge_stream(raw.stream)
            batch = [
                (f"{raw.prefix}{rest}", body, {**headers, "Nats-Msg-Id": f"{headers['Nats-Msg-Id']}.{run}"})
                for rest, body, headers in messages
            ]
            figures["publish"].loads.append(load())
            sent = await publish(js, batch, in_flight=args.in_flight)
            if sent.errors or sent.duplicates:
                raise RuntimeError(f"raw publish: {sent.errors[:3]}, {sent.duplicates} duplicates")
            figures["publish"].raw.append(sent.count / sent.seconds)
        rows["raw publish"] = (
            f"{len(messages):,} events × {args.runs}: "
            + ", ".join(f"{r:,.0f}" for r in figures["publish"].raw)
            + " events/s"
        )
        for batch_size, key, count, per_event, checked in (
            (100, "apply100", len(messages), False, False),
            (100, "apply100e", args.variant_events, True, False),
            (100, "apply100d", args.variant_events, True, True),
            (1, "apply1", args.batch1_events, False, False),
        ):
            count = min(count, len(messages))
            say(f"raw {key}: {count:,} events × {args.runs}")
            rates = []
            for run in range(args.runs):
                figures[key].loads.append(load())
                durable = f"{raw.tag}-{key}-{run}"
                seconds, stored = await apply_raw(
                    nc, db, raw, batch=batch_size, count=count, durable=durable, per_event=per_event, decoded=checked
                )
                rates.append(count / seconds)
            figures[key].raw = rates
            rows[f"raw {key}"] = (
                f"{count:,} events, batch {batch_size}{', an upsert per event' if per_event else ''}"
                f"{', shared.bus.decode' if checked else ''}: "
                + ", ".join(f"{r:,.0f}" for r in rates)
                + f" events/s ({stored:,} progress rows)"
            )
        # point reads of one progress row (the rows of the last batch-1 run)
        keys = [r["assignment_id"] for r in await db.fetch(f"SELECT assignment_id FROM {raw.schema}.progress")]
        statement = await db.prepare(f"SELECT status, outputs FROM {raw.schema}.progress WHERE assignment_id = $1")
        for run in range(args.runs):
            figures["read"].loads.append(load())
            latencies = []
            for i in range(args.reads):
                begun = time.perf_counter()
                await statement.fetchrow(keys[(i * 7919 + run) % len(keys)])
                latencies.append(time.perf_counter() - begun)
            figures["read"].raw.append(quantile(latencies, 50) * 1e3)
            figures["read p95"].raw.append(quantile(latencies, 95) * 1e3)
        rows["raw read"] = (
            f"{args.reads} point reads × {args.runs}: p50 "
            + ", ".join(f"{v:.3f}" for v in figures["read"].raw)
            + " ms, p95 "
            + ", ".join(f"{v:.3f}" for v in figures["read p95"].raw)
            + " ms"
        )
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream(raw.stream)
        await nc.close()
        await db.execute(f"DROP SCHEMA IF EXISTS {raw.schema} CASCADE")
        await db.close()
    return rows


# --- the project's paths ---------------------------------------------------------------------


def service_pids(up: Up, name: str) -> list[int]:
    """The processes of a service: "reports", and with `--replicas`, "reports-2" …"""
    running = json.loads((up.data_dir / "services.json").read_text())
    return [int(info["pid"]) for key, info in running.items() if key == name or key.startswith(f"{name}-")]


@contextlib.contextmanager
def paused(up: Up, *names: str) -> Iterator[None]:
    """SIGSTOP the services (every replica), SIGCONT them at the end (a stopped process also ignores SIGTERM)."""
    pids = [pid for name in names for pid in service_pids(up, name)]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


async def consumers_left(js: Any, durables: list[tuple[str, str]]) -> int:
    """Messages not yet acked by the given durable consumers ((stream, durable))."""
    left = 0
    for stream, durable in durables:
        info = await js.consumer_info(stream, durable)
        left += (info.num_pending or 0) + (info.num_ack_pending or 0)
    return left


async def seed_plans(db: asyncpg.Connection, data: Dataset) -> int:
    """The data set's plans, tasks and assignments in schema reports (as plan.issued and
    assignment.created would leave them)."""
    at = datetime(data.year, 1, 5, 2, 0, tzinfo=UTC)
    plans, tasks, assignments = [], [], []
    for plan in data.plans:
        plans.append(plan_row(plan.plan_id, plan.number, plan.title, plan.issuer, plan.period))
        tasks += plan_task_rows(plan.plan_id, plan.tasks)
        assignments += [assignment_row(a, plan.plan_id, plan.number, at) for a in data.assignments(plan)]
    async with db.transaction():
        for table, columns, records in (
            ("plans", PLAN_COLUMNS, plans),
            ("plan_tasks", PLAN_TASK_COLUMNS, tasks),
            ("assignments", ASSIGNMENT_COLUMNS, assignments),
        ):
            await db.copy_records_to_table(table, schema_name="reports", columns=columns, records=records)
    await db.execute("VACUUM (ANALYZE) reports.assignments, reports.plans, reports.plan_tasks")
    return len(assignments)


async def project_part(
    args: argparse.Namespace,
    up: Up,
    data: Dataset,
    summary: Summary,
    messages: list[tuple[str, bytes, dict[str, str]]],
    figures: dict[str, Figure],
) -> dict[str, str]:
    rows: dict[str, str] = {}
    n = len(messages)
    settings = Settings(nats_url=up.nats_url, database_url=up.db_url, nats_prefix=up.prefix)
    progress_subs = [s for s in subscriptions(settings) if s.event_type.startswith("progress.")]
    progress_durables = [(s.stream(up.prefix), s.durable("reports")) for s in progress_subs]
    all_durables = list(dict.fromkeys((s.stream(up.prefix), s.durable("reports")) for s in subscriptions(settings)))
    db = await asyncpg.connect(plain_url(up.db_url))
    operator = await nats_connect(up.nats_url)
    ojs = operator.jetstream()
    headers = auth_headers(up.base_url)
    try:
        async with httpx.AsyncClient(base_url=up.base_url, timeout=600, headers=headers) as api:
            await until(lambda: healthy(api), 180, 0.3)
            t0 = time.monotonic()
            provinces = sorted({p.issuer.code for p in data.plans})
            loaded = (await api.post("/api/units/load", json={"provinces": provinces})).raise_for_status().json()

            async def units_in_reports() -> bool:
                return await db.fetchval("SELECT count(*) FROM reports.units") >= loaded["loaded"]

            say(f"project: {loaded['loaded']:,} units loaded")
            await until(units_in_reports, args.timeout, 0.5)
            await until(lambda: consumers_idle(ojs, all_durables), args.timeout, 0.5)
            t1 = time.monotonic()
            say("project: seeding plans and assignments")
            assignments = await seed_plans(db, data)
            await recount(up.db_url)  # the roll-ups' aggregates of the facts written beside the handlers
            rows["setup"] = (
                f"{len(provinces)} provinces, {loaded['loaded']:,} units loaded and in reports {t1 - t0:.1f} s;"
                f" {len(data.plans)} plans × {data.tasks_per_plan} monthly tasks, {assignments:,} assignments"
                f" COPY + ANALYZE {time.monotonic() - t1:.1f} s"
            )

            # publish into the project's stream as tasks would, reports and notify paused
            cpu_before = up.cpu()
            rates: list[float] = []
            with paused(up, "notify"):
                with paused(up, "reports"):
                    nc = await nats_connect(up.nats_url, "tasks")
                    try:
                        figures["publish"].loads.append(load())
                        batch = [(f"{up.prefix}{rest}", body, headers) for rest, body, headers in messages]
                        sent = await publish(
                            nc.jetstream(publish_async_max_pending=args.in_flight), batch, in_flight=args.in_flight
                        )
                    finally:
                        await nc.close()
                    if sent.errors or sent.duplicates:
                        raise RuntimeError(f"project publish: {sent.errors[:3]}, {sent.duplicates} duplicates")
                    figures["publish"].project.append(sent.count / sent.seconds)
                    rows["publish"] = (
                        f"{n:,} events into {up.prefix.upper()}_PROGRESS: {sent.count / sent.seconds:,.0f}/s"
                    )
                    figures["apply100"].loads.append(load())
                    begun = time.monotonic()
                say(f"project: {n:,} events published, reports resumed")
                # reports resumed on the full stream
                await until(lambda: consumers_idle(ojs, progress_durables), args.timeout, 0.1)
                rates.append(n / (time.monotonic() - begun))
                cpu_after = up.cpu()
                for run in range(1, args.runs):
                    say(f"project: apply run {run + 1}")
                    with paused(up, "reports"):
                        await reset_progress(ojs, db, settings, progress_subs, progress_durables, up.prefix)
                        await recount(up.db_url)
                        figures["apply100"].loads.append(load())
                        begun = time.monotonic()
                    await until(lambda: consumers_idle(ojs, progress_durables), args.timeout, 0.1)
                    rates.append(n / (time.monotonic() - begun))
                figures["apply100"].project = rates
                figures["apply100e"].project = rates
                figures["apply100d"].project = rates
                spent = {k: cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0) for k in cpu_after}
                rows["apply"] = (
                    f"{n:,} events, reports alone: " + ", ".join(f"{r:,.0f}" for r in rates) + " events/s; CPU-s"
                    " of the first run with its publish: "
                    + ", ".join(f"{k} {v:.0f}" for k, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v >= 0.5)
                )
                say("project: applied; checks and roll-up")
                rows["checks"] = await check_read_model(db, summary)

                # the roll-up of the largest province, the year
                largest = max(data.units, key=lambda pc: len(pc[1]))[0].code
                params = {"unit": largest, "period": str(data.year)}
                for _ in range(args.warmup):
                    (await api.get("/api/reports/rollup", params=params)).raise_for_status()
                body: dict[str, Any] = {}
                for _ in range(args.runs):
                    figures["read"].loads.append(load())
                    latencies = []
                    for _ in range(args.query_runs):
                        begun_q = time.perf_counter()
                        reply = (await api.get("/api/reports/rollup", params=params)).raise_for_status()
                        latencies.append(time.perf_counter() - begun_q)
                        body = reply.json()
                    figures["read"].project.append(quantile(latencies, 50) * 1e3)
                    figures["read p95"].project.append(quantile(latencies, 95) * 1e3)
                rows["rollup"] = (
                    f"province {largest}, {data.year}: expected {body.get('expected'):,}, reported"
                    f" {body.get('reported'):,}; p50 "
                    + ", ".join(f"{v:.0f}" for v in figures["read"].project)
                    + " ms, p95 "
                    + ", ".join(f"{v:.0f}" for v in figures["read p95"].project)
                    + " ms"
                )

                if args.rebuild_runs:
                    # The assignments were written with COPY: put their assignment.created in the
                    # stream too (as tasks publishes them), so the rebuild makes the whole read model.
                    rebuilt: list[float] = []
                    for run in range(args.rebuild_runs):
                        figures["rebuild"].loads.append(load())
                        with paused(up, "reports"):
                            if run == 0:  # reports is paused: it takes them in the rebuild only
                                nc = await nats_connect(up.nats_url, "tasks")
                                try:
                                    sent = await publish(
                                        nc.jetstream(publish_async_max_pending=args.in_flight),
                                        list(data.assignment_envelopes(up.prefix)),
                                        in_flight=args.in_flight,
                                    )
                                finally:
                                    await nc.close()
                                if sent.errors:
                                    raise RuntimeError(f"assignment.created publish: {sent.errors[:3]}")
                            operator_view = settings  # external servers: anonymous
                            if not os.environ.get("CCHC_NATS_URL"):  # the embedded one: as its operator
                                embedded = settings.model_copy(update={"nats_url": None})
                                operator_view = operator_settings(up.data_dir, embedded) or settings
                            say("project: rebuild")
                            removed = await rebuild(operator_view)
                            begun = time.monotonic()
                            for pid in service_pids(up, "reports"):
                                os.kill(pid, signal.SIGKILL)
                        # as `cchc rebuild-reports --watch` follows it: from the first event applied
                        # to the last (the restart apart), and from the kill
                        first: tuple[float, int] | None = None
                        async with contextlib.aclosing(watch(operator_view, every=0.2)) as updates:
                            async for now in updates:
                                if first is None and now.applied:
                                    first = (time.monotonic(), now.applied)
                        ended = time.monotonic()
                        await until(lambda: consumers_idle(ojs, all_durables, at_least=1), args.timeout, 0.2)
                        seconds = ended - begun
                        replayed = await db.fetchval("SELECT count(*) FROM reports.inbox")
                        assert first is not None
                        replay_seconds = ended - first[0]
                        rebuilt.append((replayed - first[1]) / replay_seconds)
                        counts = await db.fetchrow(
                            "SELECT (SELECT count(*) FROM reports.units) units,"
                            " (SELECT count(*) FROM reports.assignments) assignments,"
                            " (SELECT count(*) FROM reports.progress) progress"
                        )
                        rows["rebuild"] = (
                            f"{removed.get('inbox', 0):,} events handled before, {replayed:,} applied again in"
                            f" {replay_seconds:.1f} s from the first to the last ({seconds:.1f} s from the kill,"
                            f" restart included: {replayed / seconds:,.0f} events/s); read model after:"
                            f" {counts['units']:,} units, {counts['assignments']:,} assignments,"
                            f" {counts['progress']:,} progress rows"
                        )
                        if (counts["assignments"], counts["progress"]) != (assignments, summary.reported):
                            raise RuntimeError(f"rebuild: {dict(counts)}, not {assignments} / {summary.reported}")
                    figures["rebuild"].project = rebuilt
                    figures["rebuild"].raw = figures["apply100"].raw
                    rows["rebuild"] += ": " + ", ".join(f"{r:,.0f}" for r in rebuilt) + " events/s"
        pending, dead = await bus_state(up.nats_url, up.prefix)
        log = (up.data_dir / "logs" / "reports.log").read_text(errors="replace")
        rows["bus"] = (
            f"{dead} dead-lettered, {pending:,} unacked (notify's, paused); reports log: batches handled one by one"
            f" {log.count('handling them one by one')}, dead-lettered {log.count('dead-lettered')}"
        )
    finally:
        await operator.close()
        await db.close()
    return rows


async def consumers_idle(js: Any, durables: list[tuple[str, str]], at_least: int = 0) -> bool:
    """Every message delivered to these consumers acked (and, with `at_least`, that many delivered)."""
    delivered = 0
    for stream, durable in durables:
        try:
            info = await js.consumer_info(stream, durable)
        except Exception:  # noqa: BLE001 - not declared yet (a service starting again)
            return False
        if (info.num_pending or 0) + (info.num_ack_pending or 0):
            return False
        delivered += info.delivered.stream_seq if info.delivered else 0
    return delivered >= at_least


async def recount(database_url: str) -> None:
    """The roll-ups' aggregates filled from the facts (services/reports/aggregates.recount): the
    facts this script writes or empties beside the handlers would leave them behind."""
    engine = make_engine(database_url, pool_size=1)
    try:
        async with async_sessionmaker(engine)() as session, session.begin():
            await aggregates.recount(session)
    finally:
        await engine.dispose()


async def reset_progress(
    js: Any, db: asyncpg.Connection, settings: Settings, subs: list[Any], durables: list[tuple[str, str]], prefix: str
) -> None:
    """With reports paused: its progress rows and their inbox rows gone, its progress consumers
    back at the start of the stream (deleted and declared again, as services/reports/rebuild.py does)."""

    async def no_pull_waiting() -> bool:  # a paused service's pull requests expire
        return not any([(await js.consumer_info(s, d)).num_waiting for s, d in durables])

    await until(no_pull_waiting, 30, 0.2)
    for stream, durable in durables:
        await js.delete_consumer(stream, durable)
    await db.execute("TRUNCATE reports.progress")
    await db.execute("DELETE FROM reports.inbox WHERE subject LIKE $1", f"{prefix}.progress.%")
    await reconcile_consumers(js, subs, service="reports", settings=settings)


async def check_read_model(db: asyncpg.Connection, summary: Summary) -> str:
    """The read model the events should leave: one progress row per assignment reported, the
    newest report's status and outputs."""
    stored = await db.fetchval("SELECT count(*) FROM reports.progress")
    statuses = dict(await db.fetch("SELECT status, count(*) FROM reports.progress GROUP BY status"))
    outputs = dict(
        await db.fetch("SELECT key, sum(value::bigint) FROM reports.progress, jsonb_each_text(outputs) GROUP BY key")
    )
    want_statuses = {k: v for k, v in summary.statuses.items() if v}
    want_outputs = {k: v for k, v in summary.outputs.items() if v}
    problems = []
    if stored != summary.reported:
        problems.append(f"{stored:,} progress rows, {summary.reported:,} expected")
    if statuses != want_statuses:
        problems.append(f"statuses {statuses} != {want_statuses}")
    if outputs != want_outputs:
        problems.append(f"outputs {outputs} != {want_outputs}")
    if problems:
        raise RuntimeError("the read model is not what the events say: " + "; ".join(problems))
    return f"{stored:,} progress rows = assignments reported; statuses {statuses}; outputs = the newest reports'"


# --- the run ---------------------------------------------------------------------------------


def table(figures: dict[str, Figure]) -> str:
    width = max(len(f.path) for f in figures.values())
    lines = [f"{'path':<{width}} {'raw':>13} {'project':>13} {'project/raw':>11}", "-" * (width + 40)]
    for f in figures.values():
        ratio = f.ratio()
        lines.append(
            f"{f.path:<{width}} {shown(f.raw, f.unit):>13} {shown(f.project, f.unit):>13}"
            f" {'—' if ratio is None else f'{ratio:.3f}':>11}"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace, up: Up, figures: dict[str, Figure]) -> dict[str, str]:
    rows: dict[str, str] = {}
    t0 = time.perf_counter()
    data = Dataset(events=args.events, seed=args.seed, year=args.year, provinces=args.provinces)
    summary = Summary()
    messages = list(data.envelopes("", summary))
    rows["data"] = (
        f"{len(data.units)} provinces, {data.communes:,} communes, {len(data.plans)} plans × {data.tasks_per_plan}"
        f" monthly tasks; {summary.events:,} events {dict(summary.types)}, {summary.reported:,} assignments reported,"
        f" {sum(len(b) for _, b, _ in messages) / 2**20:.0f} MB; generated in {time.perf_counter() - t0:.1f} s"
    )
    async with httpx.AsyncClient(base_url=up.base_url, timeout=60) as api:
        await until(lambda: healthy(api), 180, 0.3)
    t1 = time.perf_counter()
    rows |= await raw_part(args, up, messages, figures)
    rows["raw took"] = f"{time.perf_counter() - t1:.0f} s"
    t2 = time.perf_counter()
    project = messages[: args.project_events] if args.project_events else messages
    if len(project) < len(messages):  # the read model to expect from the first P events
        summary = Summary()
        for _ in data.reports(summary):
            if summary.events >= len(project):
                break
    rows |= await project_part(args, up, data, summary, project, figures)
    rows["project took"] = f"{time.perf_counter() - t2:.0f} s"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="progress events of the data set (N)")
    parser.add_argument("--batch1-events", type=int, default=2_000, help="events applied one by one (raw, batch 1)")
    parser.add_argument(
        "--variant-events", type=int, default=10_000, help="events of the raw per-event and decode variants"
    )
    parser.add_argument(
        "--project-events", type=int, default=20_000, help="the first P of them applied by the reports service (0 = N)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each figure (the median is shown)")
    parser.add_argument("--rebuild-runs", type=int, default=1, help="runs of the rebuild (0 = skip)")
    parser.add_argument("--reads", type=int, default=2000, help="raw point reads per run")
    parser.add_argument("--query-runs", type=int, default=20, help="roll-up requests per run")
    parser.add_argument("--warmup", type=int, default=2, help="roll-up requests before measuring")
    parser.add_argument("--in-flight", type=int, default=2000, help="PubAcks outstanding while publishing")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--provinces", type=lambda s: tuple(s.split(",")), default=None, help="codes, default all 34")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for each step")
    parser.add_argument(
        "--replicas", type=int, default=1, help="processes of each service on the same consumers (cchc up --replicas)"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "raw_limits.json", help="where the figures go")
    args = parser.parse_args()
    if args.project_events and args.project_events > args.events:
        parser.error("--project-events must not exceed --events")

    figures = {
        "publish": Figure(
            f"publish to JetStream, async, ≤ {args.in_flight:,} PubAcks outstanding",
            "ev/s",
            note="raw: the bench's stream; project: its progress stream as the tasks user, one run",
        ),
        "apply100": Figure(
            "progress events applied, batch 100 (raw) / reports",
            "ev/s",
            note="project: the reports service alone on a full stream (notify paused)",
        ),
        "apply100e": Figure(
            "progress events applied, batch 100, upsert per event (raw) / reports",
            "ev/s",
            note="raw: the claim in one statement, then the upsert once per event, as a one-event handler does",
        ),
        "apply100d": Figure(
            "… and each event through shared.bus.decode (raw) / reports",
            "ev/s",
            note="raw per event as above, plus the bus's pydantic decode and provenance checks of each message",
        ),
        "apply1": Figure("progress events applied, batch 1 (raw)", "ev/s", note="no project counterpart"),
        "rebuild": Figure(
            "rebuild of the read model (project) / raw batch 100",
            "ev/s",
            note="project: rebuild-reports, then reports killed and restarted: restart included, every stream replayed",
        ),
        "read": Figure(
            "read, p50: progress row by key (raw) / province roll-up",
            "ms",
            note="raw: asyncpg point read; project: GET /api/reports/rollup of the largest province, the year",
        ),
        "read p95": Figure("read, p95: progress row by key (raw) / province roll-up", "ms"),
    }
    started, date, load_before = time.monotonic(), datetime.now(UTC), load()
    with cchc_up({"CCHC_SWEEP_INTERVAL_SECONDS": "60"}, logs_on_error=("reports",), replicas=args.replicas) as up:
        try:
            rows = asyncio.run(run(args, up, figures))
        finally:
            with contextlib.suppress(Exception):  # whatever was paused goes on (and can be stopped)
                for pid in service_pids(up, "reports") + service_pids(up, "notify"):
                    os.kill(pid, signal.SIGCONT)
        rows["services"] = up.services_row() + (" (reports restarted by each rebuild)" if args.rebuild_runs else "")
    seconds = time.monotonic() - started
    rows["took"] = f"{seconds:.0f} s (load average before {load_before:.2f}, after {load():.2f})"
    print_rows(rows, 11)
    print(f"\n{table(figures)}")
    found = {
        "date": date.isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "seconds": round(seconds, 1),
        "load_before": load_before,
        "figures": [f.json() for f in figures.values()],
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(found, indent=2, ensure_ascii=False) + "\n")
    print(f"\n{args.json} · commit {found['commit']} · {found['date']} · {found['machine']['cpu']}")


if __name__ == "__main__":
    main()
