"""Benchmark: due-soon reminders to every commune, in-app and by email (not a timed test).

Starts an SMTP server (aiosmtpd) in this process and a real `cchc up` (embedded NATS and
PostgreSQL, or CCHC_NATS_URL + CCHC_DATABASE_URL with a fresh database and subject prefix) whose
notify service mails to it. Loads the 34 provinces (3,321 communes), gives each of N communes K
email contacts through the API, then publishes one occurrence.due_soon per commune straight to
JetStream, as the tasks service's sweep would (or, with --event assigned, one assignment.created per
commune, as a national plan's issue would), and measures:

  units     POST /api/units/load of all provinces, then the bus idle (reports digests unit.created)
  contacts  N x K POST /api/notifications/contacts through the gateway, C at a time
  publish   N occurrence.due_soon published to JetStream (each PubAck awaited)
  in-app    first publish until notify.notifications holds N due_soon (assigned) rows: the notify consumer
  email     first publish until the SMTP server has received N x K messages: consumer, then the
            delivery worker (woken as the notifications commit, and polled every
            CCHC_DELIVERY_POLL_SECONDS) sending over CCHC_SMTP_SESSIONS SMTP sessions
  load      the machine's load average at the first publish and at the end (2 shared cores: say it
            next to every figure)

Then checks: exactly N x K mails, one per contact, distinct Message-IDs; no delivery failed or
still pending; nothing unacked or dead-lettered on the bus; no service restarted. CPU seconds
per process over the measured window say where the time went.

    .venv/bin/python bench/notify_due_soon.py [--communes N] [--contacts-per-unit K] [--concurrency C]
        [--smtp-sessions S] [--event due_soon|assigned] [--py-spy FILE]

--py-spy FILE samples the notify process over the in-app/email window with py-spy (installed
apart: `.venv/bin/pip install py-spy`; not a dependency of the project) and writes its
collapsed stacks to FILE, with the heaviest functions printed (self and total).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.policy import default as default_policy
from functools import partial
from itertools import zip_longest
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiosmtpd.controller import Controller
from vietnam_provinces import Province

from shared.clock import VN
from shared.db import plain_url
from shared.events import AssignmentCreated, OccurrenceDueSoon, UnitRef, make_event, subject
from shared.servers import free_port

from common import auth_headers, bus_idle, bus_row, cchc_up, healthy, nats_connect, print_rows, until

LEAD_DAYS = 7


async def stream_messages(nats_url: str, stream: str) -> int:
    nc = await nats_connect(nats_url)
    try:
        return int((await nc.jsm().stream_info(stream)).state.messages)
    finally:
        await nc.close()


class Mailbox:
    """aiosmtpd handler (runs in the controller's thread): keeps what it accepts, and when."""

    def __init__(self) -> None:
        self.received: list[tuple[float, list[str], bytes]] = []
        self.sessions: set[Any] = set()  # aiosmtpd makes one session object per connection
        self.by_connection: list[int] = []  # which connection each message came over

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 — aiosmtpd's name
        self.sessions.add(session)
        self.by_connection.append(id(session))
        self.received.append((time.monotonic(), list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def due_soon(prefix: str, unit: dict[str, Any], plan_id: uuid.UUID, due: Any) -> tuple[str, bytes, dict[str, str]]:
    """The occurrence.due_soon the tasks service's sweep would publish for one commune's assignment."""
    path = unit["path"]
    payload = OccurrenceDueSoon(
        assignment_id=uuid.uuid4(),
        plan_id=plan_id,
        task_ref="1",
        task_title="Báo cáo kết quả tuyên truyền cải cách hành chính (benchmark)",
        unit=UnitRef(code=unit["code"], path=path, name=unit["name"], level="commune"),
        period=f"{due.year}-Q{(due.month - 1) // 3 + 1}",
        due=due,
        lead_days=LEAD_DAYS,
        days_left=LEAD_DAYS,
    )
    return message(prefix, "occurrence.due_soon", path, payload)


def assigned(prefix: str, unit: dict[str, Any], plan_id: uuid.UUID, due: Any) -> tuple[str, bytes, dict[str, str]]:
    """The assignment.created the tasks service would publish for one commune of a national plan."""
    path = unit["path"]
    payload = AssignmentCreated(
        assignment_id=uuid.uuid4(),
        plan_id=plan_id,
        plan_number="18/KH-UBND",
        task_ref="1",
        task_title="Báo cáo kết quả tuyên truyền cải cách hành chính (benchmark)",
        unit=UnitRef(code=unit["code"], path=path, name=unit["name"], level="commune"),
        role="lead",
        period=f"{due.year}-Q{(due.month - 1) // 3 + 1}",
        due=due,
    )
    return message(prefix, "assignment.created", path, payload)


def message(prefix: str, event_type: str, path: str, payload: Any) -> tuple[str, bytes, dict[str, str]]:
    event = make_event(event_type, unit_path=path, producer="tasks", payload=payload, at=datetime.now(UTC))
    headers = {"Nats-Msg-Id": str(event.id), "content-type": "application/json"}
    return subject(prefix, event_type, path), event.model_dump_json().encode(), headers


EVENTS = {"due_soon": due_soon, "assigned": assigned}  # --event: the notification kind, and what makes it


def start_py_spy(data_dir: Path, out: str) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the notify process (collapsed stacks to `out`), if py-spy is installed."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy not installed: no profile", file=sys.stderr)
        return None
    pid = json.loads((data_dir / "services.json").read_text())["notify"]["pid"]
    command = [spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--output", out, "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_py_spy(spy: subprocess.Popen[bytes] | None, out: str, top: int = 25) -> str:
    """Stop the sampler (it writes its file on SIGINT) and summarise: the functions where the
    samples were (self) and those on the stack (total), as shares of all samples."""
    if spy is None:
        return "n/a"
    spy.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        spy.wait(30)
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    total = 0
    with contextlib.suppress(OSError):
        for line in Path(out).read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            n, frames = int(count), stack.split(";")[1:]  # the first frame is the thread
            total += n
            if frames:
                own[frames[-1]] += n
            for frame in set(frames):
                under[frame] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples in {out}; self:"]
    lines += [f"    {100 * c / total:5.1f} %  {f}" for f, c in own.most_common(top)]
    lines += ["  total (on the stack):"]
    lines += [f"    {100 * c / total:5.1f} %  {f}" for f, c in under.most_common(top)]
    return "\n".join(lines)


async def _at_least(value: Awaitable[int], wanted: int) -> bool:
    return await value >= wanted


def email_of(code: str, k: int) -> str:
    return f"vanphong{k}.x{code}@cchc-bench.gov.vn"


async def run(
    args: argparse.Namespace,
    base_url: str,
    nats_url: str,
    db_url: str,
    prefix: str,
    box: Mailbox,
    cpu: Callable[[], dict[str, float]],
    data_dir: Path,
) -> dict[str, str]:
    n, k, rows = args.communes, args.contacts_per_unit, {}
    expected_mails = n * k
    limits = httpx.Limits(max_connections=args.concurrency + 4, max_keepalive_connections=args.concurrency + 4)
    headers = auth_headers(base_url)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits, headers=headers) as api:
        idle = partial(bus_idle, nats_url, prefix)
        await until(lambda: healthy(api), 120, 0.3)

        # units: every province, as an operator would load the directory
        provinces = sorted(f"{int(p.code):02d}" for p in Province.iter_all())
        t0 = time.monotonic()
        loaded = (await api.post("/api/units/load", json={"provinces": provinces})).raise_for_status().json()
        t_loaded = time.monotonic()
        unit_stream = f"{prefix}_UNIT".upper()
        await until(lambda: _at_least(stream_messages(nats_url, unit_stream), loaded["created"]), args.timeout, 0.2)
        await until(idle, args.timeout, 0.5)
        t_units_idle = time.monotonic()
        replies = await asyncio.gather(*(api.get("/api/units", params={"parent": p}) for p in provinces))
        per_province = [[u for u in r.raise_for_status().json()["items"] if u["level"] == "commune"] for r in replies]
        everyone = [u for group in zip_longest(*per_province) for u in group if u]  # round robin over provinces
        if n > len(everyone):
            raise SystemExit(f"only {len(everyone)} communes, asked for {n}")
        communes = everyone[:n]
        rows["units"] = (
            f"{len(provinces)} provinces, {loaded['loaded']} units ({len(everyone)} communes): stored"
            f" {t_loaded - t0:.1f} s, bus idle (unit.created digested) {t_units_idle - t0:.1f} s"
        )

        # contacts: K email contacts per commune, through the gateway
        errors: Counter[int] = Counter()
        latencies: list[float] = []
        todo = iter([(u, i) for i in range(k) for u in communes])

        async def worker() -> None:
            for unit, i in todo:
                start = time.perf_counter()
                body = {
                    "unit": unit["code"],
                    "name": f"Văn phòng {unit['name']} {i + 1}",
                    "email": email_of(unit["code"], i),
                    "channels": ["email"],
                }
                for attempt in range(4):
                    try:
                        reply = await api.post("/api/notifications/contacts", json=body)
                    except httpx.RemoteProtocolError:
                        # a kept-alive connection the gateway closed as the request left (idle since
                        # the units were loaded): nothing was read of it; the mail check counts any duplicate
                        if attempt == 3:
                            raise
                        continue
                    if reply.status_code != 503 or attempt == 3:
                        break
                    # on a loaded machine the gateway's token exchange with plans may time out: 503,
                    # the request not passed on (Retry-After)
                    await asyncio.sleep(float(reply.headers.get("retry-after", "1")))
                latencies.append(time.perf_counter() - start)
                if reply.status_code != 201:
                    errors[reply.status_code] += 1

        t_c = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        c_s = time.monotonic() - t_c
        latencies.sort()
        if latencies:
            p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)]
            rows["contacts"] = (
                f"{n * k} POSTs, C={args.concurrency}: {c_s:.1f} s, {n * k / c_s:.0f}/s, p50 {p50 * 1e3:.0f} ms,"
                f" p95 {p95 * 1e3:.0f} ms, errors {dict(errors) or 0}"
            )
        else:
            rows["contacts"] = "none (K = 0): in-app only"
        if errors:
            raise RuntimeError(f"contacts refused: {dict(errors)}")
        await until(idle, args.timeout, 0.5)
        await asyncio.sleep(args.sweep_interval + 1)  # the delivery worker has had a round with nothing to do

        # publish N occurrence.due_soon (assignment.created), then watch the notifications table and the mailbox
        db = await asyncpg.connect(plain_url(db_url))
        try:
            due = datetime.now(VN).date() + timedelta(days=LEAD_DAYS)
            plan_id = uuid.uuid4()
            kind = args.event
            events = [EVENTS[kind](prefix, u, plan_id, due) for u in communes]
            spy = start_py_spy(data_dir, args.py_spy) if args.py_spy else None
            load_before = os.getloadavg()
            cpu_before = cpu()
            nc = await nats_connect(nats_url, "tasks")
            try:
                js, t_first = nc.jetstream(), time.monotonic()
                for start in range(0, n, 500):
                    batch = events[start : start + 500]
                    await asyncio.gather(*(js.publish(s, data, headers=h) for s, data, h in batch))
                t_published = time.monotonic()
            finally:
                await nc.close()
            rows["publish"] = f"{n} events in {t_published - t_first:.2f} s ({n / (t_published - t_first):.0f}/s)"

            async def notified() -> int:
                return int(await db.fetchval("SELECT count(*) FROM notify.notifications WHERE kind = $1", kind))

            t_inapp = t_mail = None
            count, last_print, deadline = 0, time.monotonic(), time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                now = time.monotonic()
                if t_inapp is None:
                    count = await notified()
                    if count >= n:
                        t_inapp = now
                if t_mail is None and len(box.received) >= expected_mails:
                    t_mail = box.received[expected_mails - 1][0] if expected_mails else t_first
                if t_inapp is not None and t_mail is not None:
                    break
                if now - last_print >= 15:
                    last_print = now
                    print(
                        f"  {now - t_first:6.0f} s: in-app {count}/{n}, mails {len(box.received)}/{expected_mails}",
                        file=sys.stderr,
                        flush=True,
                    )
                await asyncio.sleep(0.2)
            cpu_after = cpu()
            load_after = os.getloadavg()
            t_end = time.monotonic()
            if args.py_spy:
                rows["profile"] = stop_py_spy(spy, args.py_spy)
            if t_inapp is None:
                count = await notified()
                s = t_end - t_first
                rows["in-app"] = f"NOT REACHED: {count} of {n} after {s:.0f} s ({count / s:.1f}/s)"
            else:
                s = t_inapp - t_first
                rows["in-app"] = f"{n} notifications after {s:.1f} s: {n / s:.1f}/s"
            got = len(box.received)
            if not expected_mails:
                rows["email"] = f"none expected (K = 0), {got} received"
            elif t_mail is None:
                rows["email"] = (
                    f"NOT REACHED: {got} of {expected_mails} mails after {t_end - t_first:.0f} s"
                    f" ({got / (t_end - t_first):.1f}/s)"
                )
            else:
                s, first = t_mail - t_first, box.received[0][0]
                rows["email"] = (
                    f"{expected_mails} mails after {s:.1f} s: {expected_mails / s:.1f}/s end to end; first mail at"
                    f" {first - t_first:.1f} s, {expected_mails / max(t_mail - first, 1e-9):.1f}/s from the first;"
                    f" last mail {t_mail - (t_inapp or t_end):+.1f} s after the last notification"
                )
            rows["load"] = (
                "load average (1, 5, 15 min) at the first publish "
                + ", ".join(f"{x:.2f}" for x in load_before)
                + "; at the end "
                + ", ".join(f"{x:.2f}" for x in load_after)
            )
            window = t_end - t_first
            spent = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
            rows["cpu"] = (
                f"over {window:.0f} s (2 cores = {2 * window:.0f} CPU-s): "
                + ", ".join(f"{name} {sec:.1f}" for name, sec in sorted(spent.items(), key=lambda kv: -kv[1]))
                + f"; total {sum(spent.values()):.1f} CPU-s"
            )

            # where the time goes, from notify's own records (best effort: the schema may change)
            try:
                note = await db.fetchrow(
                    "SELECT min(created_at) AS a, max(created_at) AS b FROM notify.notifications WHERE kind = $1",
                    kind,
                )
                lag = await db.fetchrow(
                    "SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP"
                    " (ORDER BY extract(epoch FROM d.sent_at - n.created_at)) AS q,"
                    " max(extract(epoch FROM d.sent_at - n.created_at)) AS worst"
                    " FROM notify.deliveries d JOIN notify.notifications n ON n.id = d.notification_id"
                    " WHERE n.kind = $1",
                    kind,
                )
                smtp = await db.fetchrow(
                    "SELECT count(*) AS attempts, count(*) FILTER (WHERE NOT ok) AS failed,"
                    " percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY duration_ms) AS q,"
                    " max(duration_ms) AS worst FROM notify.delivery_attempts"
                )
                span = (note["b"] - note["a"]).total_seconds() if note["a"] else 0.0
                rows["notify db"] = (
                    f"notifications created over {span:.1f} s (DB clock); notification -> mail sent p50"
                    f" {lag['q'][0] if lag['q'] else 0:.1f} s, p95 {lag['q'][1] if lag['q'] else 0:.1f} s,"
                    f" max {lag['worst'] or 0:.1f} s; {smtp['attempts']} SMTP attempts ({smtp['failed']} failed),"
                    f" each p50 {smtp['q'][0] if smtp['q'] else 0:.0f} ms, p95 {smtp['q'][1] if smtp['q'] else 0:.0f}"
                    f" ms, max {smtp['worst'] or 0} ms"
                )
            except asyncpg.PostgresError as exc:
                rows["notify db"] = f"n/a ({exc.__class__.__name__}: {exc})"

            # checks: let late duplicates arrive, then count
            with contextlib.suppress(TimeoutError):
                await until(idle, 60, 0.5)
            await asyncio.sleep(args.sweep_interval + 2)
            parser = BytesHeaderParser(policy=default_policy)
            headers = [parser.parsebytes(content) for _, _, content in box.received]
            raw = BytesHeaderParser(policy=compat32)  # the header as it travelled, not decoded
            encoded = sum(
                1 for _, _, content in box.received if "=?" in str(raw.parsebytes(content)["X-CCHC-Idempotency-Key"])
            )
            recipients = Counter(r for _, rcpt, _ in box.received for r in rcpt)
            wanted = {email_of(u["code"], i) for u in communes for i in range(k)}
            final = await notified()
            per_connection = Counter(box.by_connection)
            rows["mail check"] = (
                f"{len(box.received)} mails (expected {expected_mails}) over {len(box.sessions)} SMTP connections"
                f" (at most {max(per_connection.values(), default=0)} over one),"
                f" {len(recipients)} recipients, "
                f"{len({h['Message-ID'] for h in headers})} distinct Message-IDs, "
                f"{len({h['X-CCHC-Idempotency-Key'] for h in headers})} distinct idempotency keys"
                f" ({encoded} of them RFC 2047-encoded on the wire), "
                f"{sum(c - 1 for c in recipients.values())} duplicates, "
                f"{len(wanted - set(recipients))} contacts missed, {len(set(recipients) - wanted)} strangers; "
                f"{final} {kind} notifications"
            )
        finally:
            await db.close()

        async def listed(status: str) -> str:
            """How many deliveries of a status (a page holds at most 500: "500+" past it)."""
            page = (await api.get("/api/notifications/deliveries", params={"status": status, "limit": 500})).json()
            return f"{len(page['items'])}{'+' if page.get('next_cursor') else ''}"

        rows["deliveries"] = f"{await listed('failed')} failed, {await listed('pending')} pending"
    rows["bus"] = await bus_row(nats_url, prefix)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--communes", type=int, default=3321, help="communes reminded, one event each (N)")
    parser.add_argument("--contacts-per-unit", type=int, default=1, help="email contacts per commune (K)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent HTTP workers creating contacts (C)")
    parser.add_argument(
        "--sweep-interval", type=float, default=5.0, help="CCHC_SWEEP_INTERVAL_SECONDS: also the delivery worker's"
    )
    parser.add_argument("--timeout", type=float, default=1500, help="seconds to wait for each set-up/catch-up step")
    parser.add_argument("--smtp-sessions", type=int, default=None, help="CCHC_SMTP_SESSIONS (default: the setting's)")
    parser.add_argument(
        "--event",
        choices=sorted(EVENTS),
        default="due_soon",
        help="what each commune is told: a reminder or a new task",
    )
    parser.add_argument("--py-spy", metavar="FILE", help="sample notify with py-spy over the window, stacks to FILE")
    args = parser.parse_args()
    box, smtp_port = Mailbox(), free_port()
    env = {
        "CCHC_SMTP_HOST": "127.0.0.1",
        "CCHC_SMTP_PORT": str(smtp_port),
        "CCHC_SMTP_STARTTLS": "false",
        "CCHC_SWEEP_INTERVAL_SECONDS": str(args.sweep_interval),
    }
    if args.smtp_sessions is not None:
        env["CCHC_SMTP_SESSIONS"] = str(args.smtp_sessions)
    controller = Controller(box, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with cchc_up(env, logs_on_error=("notify",)) as up:
            rows = asyncio.run(run(args, up.base_url, up.nats_url, up.db_url, up.prefix, box, up.cpu, up.data_dir))
            rows["services"] = up.services_row()
            levels = Counter(
                level
                for name in ("plans", "tasks", "notify", "reports")
                for line in (up.data_dir / "logs" / f"{name}.log").read_text(errors="replace").splitlines()
                if (level := next((w for w in ("WARNING", "ERROR") if f" {w} " in line), None))
            )
            rows["logs"] = f"{levels['WARNING']} warnings, {levels['ERROR']} errors in the service logs"
    finally:
        controller.stop()
    print_rows(rows, 10)


if __name__ == "__main__":
    main()
