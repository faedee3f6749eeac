"""A real `cchc up` in a subprocess, driven over HTTP like an operator or another system would."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shared.access import Right
from shared.servers import free_port
from tests.servers import Servers, unique_name

CCHC = [sys.executable, "-m", "cchc.cli"]
ADMIN_PASSWORD = "quan-tri-e2e-2026"  # the first national admin's, given to `cchc up`


@dataclass
class Running:
    base_url: str
    data_dir: Path
    proc: subprocess.Popen[str]
    output: Path

    def services(self) -> dict[str, dict]:
        return json.loads((self.data_dir / "services.json").read_text())

    def stop(self, timeout: float = 30.0) -> float:
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        return time.monotonic() - started


def environment(servers: Servers, database_url: str, nats_prefix: str) -> dict[str, str]:
    """External servers when the environment names them; otherwise `cchc up` embeds its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    env["CCHC_SWEEP_INTERVAL_SECONDS"] = "1"
    env["CCHC_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    env["CCHC_GATEWAY_CACHE_SECONDS"] = "0"  # a revoked session or token is refused at once
    if servers.origin != "embedded":
        env.update(CCHC_NATS_URL=servers.nats_url, CCHC_DATABASE_URL=database_url, CCHC_NATS_PREFIX=nats_prefix)
    return env


def embedded_nats_environment(servers: Servers, database_url: str, role_prefix: str) -> dict[str, str]:
    """`cchc up` with its own embedded nats-server(s) (no CCHC_NATS_URL: a cluster, a hub, a site)
    on the tests' PostgreSQL, with database roles of its own (they are cluster-wide)."""
    env = environment(servers, database_url, "cchc")
    env.pop("CCHC_NATS_URL", None)
    env.pop("CCHC_NATS_PREFIX", None)
    env.update(CCHC_DATABASE_URL=database_url, CCHC_DATABASE_ROLE_PREFIX=unique_name(role_prefix))
    return env


def start(data_dir: Path, env: dict[str, str], *, timeout: float = 90.0, options: tuple[str, ...] = ()) -> Running:
    port = free_port()
    output = data_dir.parent / f"{data_dir.name}-up-{port}.log"
    proc = subprocess.Popen(
        [*CCHC, "up", "--port", str(port), "--data-dir", str(data_dir), *options],
        env=env,
        stdout=output.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Running(f"http://127.0.0.1:{port}", data_dir, proc, output)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"cchc up exited {proc.returncode}:\n{output.read_text()}")
        try:
            if httpx.get(f"{running.base_url}/healthz", timeout=2).status_code == 200:
                return running
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    running.stop()
    raise AssertionError(f"cchc up was not healthy within {timeout}s:\n{output.read_text()}")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    tmp_path.chmod(0o755)
    return tmp_path / "data"


@pytest.fixture
def up_env(servers: Servers, database_url: str, nats_prefix: str) -> dict[str, str]:
    return environment(servers, database_url, nats_prefix)


@pytest.fixture
def system_up(data_dir: Path, up_env: dict[str, str]) -> Iterator[Running]:
    running = start(data_dir, up_env)
    try:
        yield running
    finally:
        running.stop()


@contextlib.asynccontextmanager
async def admin_session(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in (cookie) as the first national admin."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        answer = await client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert answer.status_code == 200, answer.text
        yield client


async def operator_token(base_url: str) -> str:
    """What the e2e tests of behaviour act as: an API token, made by the national admin, with
    every right over the whole country (as an integration of another system would hold)."""
    async with admin_session(base_url) as admin:
        rights = [right.value for right in Right]
        made = await admin.post("/api/tokens", json={"name": "kiểm thử e2e", "unit": "*", "rights": rights})
        assert made.status_code == 201, made.text
        return str(made.json()["token"])


async def operated(base_url: str) -> httpx.AsyncClient:
    token = await operator_token(base_url)
    return httpx.AsyncClient(base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def api(system_up: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with await operated(system_up.base_url) as client:
        yield client
