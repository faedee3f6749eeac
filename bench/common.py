"""Helpers shared by the benchmarks that start a real `cchc up` (imported as a sibling module:
the scripts run as `.venv/bin/python bench/X.py`, so bench/ is on sys.path)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import psutil

from shared.access import Right
from shared.db import plain_url
from shared.servers import free_port


async def until(check: Callable[[], Awaitable[Any]], timeout: float, every: float = 0.1) -> Any:  # noqa: ASYNC109
    """Poll until `check` returns something truthy, and return it (take `time.monotonic()` right
    after the call for the moment it was reached). Transport errors count as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if result := await check():
                return result
        await asyncio.sleep(every)
    raise TimeoutError(f"not reached within {timeout:.0f} s")


async def healthy(api: httpx.AsyncClient) -> bool:
    return (await api.get("/healthz")).status_code == 200


# The NATS password files of the `cchc up` running now (its embedded server has users: the
# operator looks at the streams, `tasks` publishes what the tasks service would).
NATS_SECRETS: list[Path] = []
ADMIN_PASSWORD = "quan-tri-bench-2026"


async def nats_connect(nats_url: str, user: str = "operator") -> Any:
    """A NATS connection as `user` of the running `cchc up` (anonymous where NATS has no users)."""
    password = next((d / f"{user}.password" for d in NATS_SECRETS if (d / f"{user}.password").exists()), None)
    if password is None:
        return await nats.connect(nats_url)
    return await nats.connect(
        nats_url, user=user, password=password.read_text().strip(), inbox_prefix=f"_INBOX_{user}".encode()
    )


def auth_headers(base_url: str, timeout: float = 120.0) -> dict[str, str]:
    """What the benchmarks send: an API token with every right over the whole country, made by
    the first national admin of the running `cchc up` (as an integration would hold)."""
    rights = [right.value for right in Right]
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while True:
            try:
                login = client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
                if login.status_code == 200:
                    made = client.post("/api/tokens", json={"name": "benchmark", "unit": "*", "rights": rights})
                    made.raise_for_status()
                    return {"Authorization": f"Bearer {made.json()['token']}"}
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("could not log in as the first admin")
            time.sleep(0.5)


async def bus_state(nats_url: str, prefix: str, *, delete: bool = False) -> tuple[int, int]:
    """(messages not yet acked by a consumer, dead-lettered messages) of our streams; optionally delete them."""
    nc = await nats_connect(nats_url)
    try:
        jsm, pending, dead = nc.jsm(), 0, 0
        for name in [s.config.name or "" for s in await jsm.streams_info()]:
            if not name.startswith(prefix.upper() + "_"):
                continue
            dead += (await jsm.stream_info(name)).state.messages if name.endswith("_DLQ") else 0
            pending += sum((c.num_pending or 0) + (c.num_ack_pending or 0) for c in await jsm.consumers_info(name))
            if delete:
                await jsm.delete_stream(name)
        return pending, dead
    finally:
        await nc.close()


async def bus_idle(nats_url: str, prefix: str) -> bool:
    """No message of our streams waits for a consumer's ack."""
    return (await bus_state(nats_url, prefix))[0] == 0


async def bus_row(nats_url: str, prefix: str) -> str:
    pending, dead = await bus_state(nats_url, prefix)
    return f"{pending} messages unacked, {dead} dead-lettered"


async def admin_sql(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(plain_url(server_url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def cpu_seconds(up_pid: int, data_dir: Path, *, machine: bool = False) -> dict[str, float]:
    """User + system CPU seconds so far: each service, the gateway (`cchc up`), NATS, PostgreSQL
    (postmaster, its backends and the parallel workers already reaped, when embedded), this process
    (the load generator, an SMTP server in it); with `machine`, also the whole machine ("machine":
    every core's busy time, so other processes can be told apart)."""

    def used(p: psutil.Process, *, children: bool = False) -> float:
        """CPU seconds of `p` (and of its children already reaped); 0 for one that has just ended."""
        try:
            t = p.cpu_times()
        except psutil.Error:
            return 0.0
        return t.user + t.system + ((t.children_user + t.children_system) if children else 0.0)

    found: dict[str, float] = {}
    with contextlib.suppress(psutil.Error, OSError, ValueError):
        for name, info in json.loads((data_dir / "services.json").read_text()).items():
            found[name] = used(psutil.Process(info["pid"]))
    with contextlib.suppress(psutil.Error):
        up = psutil.Process(up_pid)
        found["gateway"] = used(up)
        for child in up.children():
            with contextlib.suppress(psutil.Error):
                if "nats" in child.name():
                    found["nats"] = used(child)
    with contextlib.suppress(psutil.Error, OSError, ValueError):
        master = psutil.Process(int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0]))
        found["postgres"] = used(master, children=True) + sum(used(c) for c in master.children(recursive=True))
    found["bench"] = used(psutil.Process())
    if machine:
        total = psutil.cpu_times()
        found["machine"] = sum(total) - total.idle - getattr(total, "iowait", 0.0)
    return found


@dataclass(frozen=True)
class Up:
    """A running `cchc up` and what the benchmark needs of it."""

    proc: subprocess.Popen[bytes]
    data_dir: Path
    base_url: str
    nats_url: str  # as `cchc up` printed them
    db_url: str
    prefix: str  # the subject prefix (fresh with external servers)
    load: float  # the 1-minute load average just before it started
    started: float  # time.monotonic() just before it started

    def cpu(self, *, machine: bool = False) -> dict[str, float]:
        return cpu_seconds(self.proc.pid, self.data_dir, machine=machine)

    def restarts(self) -> dict[str, int]:
        return {k: v["restarts"] for k, v in json.loads((self.data_dir / "services.json").read_text()).items()}

    def services_row(self) -> str:
        return f"restarts {self.restarts()}; load average before {self.load:.2f}, now {os.getloadavg()[0]:.2f}"


@contextlib.contextmanager
def cchc_up(extra_env: dict[str, str], *, logs_on_error: tuple[str, ...] = (), replicas: int = 1) -> Iterator[Up]:
    """Start a real `cchc up` in a temporary data dir on a free port, with the environment's CCHC_*
    variables dropped and `extra_env` added, and wait until it prints its servers. Embedded NATS and
    PostgreSQL, or, when CCHC_NATS_URL and CCHC_DATABASE_URL are set, those servers with a fresh
    database and subject prefix, removed afterwards. On an error, prints the end of its log (and of
    the services' logs named in `logs_on_error`); at the end, stops it. `replicas`: `cchc up
    --replicas`, each service's processes on the same durable consumers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")} | extra_env
    env["CCHC_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    nats_env, db_env = os.environ.get("CCHC_NATS_URL"), os.environ.get("CCHC_DATABASE_URL")
    prefix, database = "cchc", f"bench_{uuid.uuid4().hex[:10]}"
    if nats_env and db_env:  # a fresh database and subject prefix, removed afterwards
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        asyncio.run(admin_sql(db_env, f'CREATE DATABASE "{database}"'))
        url, _, query = db_env.partition("?")
        db_url = f"{url.rsplit('/', 1)[0]}/{database}" + (f"?{query}" if query else "")
        env |= {"CCHC_NATS_URL": nats_env, "CCHC_DATABASE_URL": db_url, "CCHC_NATS_PREFIX": prefix}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cchc-bench-") as tmp:
        Path(tmp).chmod(0o755)  # as root, the embedded PostgreSQL runs as another user
        log, data_dir, port = Path(tmp) / "up.log", Path(tmp) / "data", free_port()
        command = [sys.executable, "-m", "cchc.cli", "up", "--port", str(port), "--data-dir", str(data_dir)]
        command += ["--replicas", str(replicas)] if replicas > 1 else []
        load = os.getloadavg()[0]
        proc = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while not (found := re.search(r"NATS: (\S+) · PostgreSQL: (\S+)", log.read_text(errors="replace"))):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("cchc up did not start")
                time.sleep(0.2)
            base_url = f"http://127.0.0.1:{port}"
            NATS_SECRETS.append(data_dir / "secrets" / "nats")
            printed_db = db_url if nats_env and db_env else found.group(2)  # printed without a password
            yield Up(proc, data_dir, base_url, found.group(1), printed_db, prefix, load, started)
        except BaseException:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            for name in logs_on_error:
                with contextlib.suppress(OSError):
                    print((data_dir / "logs" / f"{name}.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            NATS_SECRETS.clear()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
            if nats_env and db_env:
                asyncio.run(bus_state(nats_env, prefix, delete=True))
                asyncio.run(admin_sql(db_env, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def print_rows(rows: dict[str, str], width: int = 9) -> None:
    """The result table: one line a phase."""
    print(f"\n{'phase':<{width}} result\n{'-' * width} {'-' * 80}")
    for phase, text in rows.items():
        print(f"{phase:<{width}} {text}")
