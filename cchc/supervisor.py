"""Runs the four services as separate OS processes, restarts one that dies, stops them all; and
restarts the embedded nats-server or PostgreSQL `cchc up` started when one of them dies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import psutil


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if `cchc up` dies without stopping it (e.g. SIGKILL)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class ServiceProcess:
    name: str  # the replica's name: "tasks", then "tasks-2" …
    port: int
    log_path: Path
    service: str = ""  # which service it runs (its name when empty)
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Supervisor:
    def __init__(
        self,
        *,
        names: list[str],
        ports: dict[str, int],
        env: dict[str, str],
        run_dir: Path,
        child_env: dict[str, dict[str, str]] | None = None,
        replicas: int = 1,
    ) -> None:
        """`names` are services; each runs `replicas` processes on the same durable consumers,
        the first on `ports[name]`, the others on ports of their own (`ports["tasks-2"]` …)."""
        self.env = env
        self.child_env = child_env or {}  # what only one service gets (its own credentials)
        self.run_dir = run_dir
        (run_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.children = {}
        for name in names:
            for index in range(replicas):
                key = name if index == 0 else f"{name}-{index + 1}"
                self.children[key] = ServiceProcess(key, ports[key], run_dir / "logs" / f"{key}.log", name)
        self.stopping = False

    def upstreams(self) -> dict[str, list[str]]:
        """Each service's replicas' URLs, for the gateway."""
        found: dict[str, list[str]] = {}
        for child in self.children.values():
            found.setdefault(child.service or child.name, []).append(child.url)
        return found

    def _kill_leftovers(self) -> None:
        """Service processes of a `cchc up` that was killed hard: stop them before starting anew."""
        state_file = self.run_dir / "services.json"
        if not state_file.exists():
            return
        with contextlib.suppress(ValueError, OSError):
            for name, info in json.loads(state_file.read_text()).items():
                with contextlib.suppress(psutil.Error, TypeError):
                    proc = psutil.Process(info["pid"])
                    if f"services.{info.get('service', name)}" in " ".join(proc.cmdline()):
                        proc.terminate()
                        proc.wait(10)
        state_file.unlink(missing_ok=True)

    def _spawn(self, child: ServiceProcess) -> None:
        child._log = child._log or open(child.log_path, "ab")  # noqa: SIM115 - kept for the child's life
        env = {
            **os.environ,
            **self.env,
            **self.child_env.get(child.service or child.name, {}),
            "CCHC_SERVICE_PORT": str(child.port),
            "PYTHONUNBUFFERED": "1",
        }
        child.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{child.service or child.name}"],
            env=env,
            stdout=child._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._write_state()

    def _write_state(self) -> None:
        state = {
            c.name: {
                "service": c.service or c.name,
                "pid": c.proc.pid if c.proc else None,
                "port": c.port,
                "log": str(c.log_path),
                "restarts": c.restarts,
            }
            for c in self.children.values()
        }
        # whole or not at all: a reader (`cchc` commands, the fault tests) never sees it half written
        written = self.run_dir / "services.json.new"
        written.write_text(json.dumps(state, indent=2))
        os.replace(written, self.run_dir / "services.json")

    def start(self) -> None:
        self._kill_leftovers()
        for child in self.children.values():
            self._spawn(child)

    async def watch(self) -> None:
        """Restart a service that exits on its own, with a growing pause (at most 30 s)."""
        while not self.stopping:
            for child in self.children.values():
                if child.proc is not None and child.proc.poll() is not None and not self.stopping:
                    code = child.proc.returncode
                    delay = min(2 ** min(child.restarts, 5), 30) * 0.5
                    print(
                        f"Dịch vụ {child.name} đã dừng (mã {code}); khởi động lại sau {delay:.1f} giây. "
                        f"Xem {child.log_path}",
                        file=sys.stderr,
                        flush=True,
                    )
                    child.restarts += 1
                    await asyncio.sleep(delay)
                    if not self.stopping:
                        self._spawn(child)
            await asyncio.sleep(0.5)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every child (they finish or release in-flight messages), then SIGKILL stragglers."""
        self.stopping = True
        running = [c for c in self.children.values() if c.proc is not None and c.proc.poll() is None]
        for child in running:
            assert child.proc is not None
            child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in running:
            assert child.proc is not None
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait(5)
        for child in self.children.values():
            if child._log:
                child._log.close()
        (self.run_dir / "services.json").unlink(missing_ok=True)


class Server(Protocol):
    """An embedded server (shared/servers.py): started on its data folder and its port."""

    def alive(self) -> bool: ...

    def start(self) -> str: ...


async def keep_up(servers: list[Server], *, stopping: Callable[[], bool], every: float = 1.0) -> None:
    """Restart an embedded server that died (killed, crashed) on the same data and the same port,
    so the services, which reconnect by themselves, find it where it was; with a growing pause
    (at most 30 s) while it will not start."""
    failures = [0] * len(servers)
    while not stopping():
        for index, server in enumerate(servers):
            if stopping() or server.alive():
                continue
            what = type(server).__name__.replace("Embedded", "")
            print(f"{what} nhúng đã dừng; đang khởi động lại trên cùng dữ liệu và cổng", file=sys.stderr, flush=True)
            try:
                await asyncio.to_thread(server.start)
            except Exception as exc:  # noqa: BLE001 - said, then tried again later
                failures[index] += 1
                delay = min(2 ** min(failures[index], 5), 30)
                print(f"{what} chưa khởi động lại được ({exc}); thử lại sau {delay} giây", file=sys.stderr, flush=True)
                await asyncio.sleep(delay)
            else:
                failures[index] = 0
                print(f"{what} nhúng đã chạy lại", file=sys.stderr, flush=True)
        await asyncio.sleep(every)
