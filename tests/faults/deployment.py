"""A whole deployment the fault tests can break: its own nats-server and PostgreSQL (killed,
stopped hard and started again on the same data and ports), a TCP proxy in front of NATS that
can cut the network, a real SMTP server that counts mails, and `cchc up --replicas 2` against
them — every service twice on the same durable consumers, supervised, behind the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import psutil
from aiosmtpd.controller import Controller
from nats.js.errors import NotFoundError

from shared import failpoints
from shared.events import DEAD_LETTER, FAMILIES, stream_name
from shared.servers import EmbeddedNats, EmbeddedNatsCluster, EmbeddedPostgres, free_port
from tests.e2e.conftest import ADMIN_PASSWORD, CCHC, operator_token

SERVICES = ("plans", "tasks", "notify", "reports")
PREFIX = "cchc"  # what `cchc up` uses: the deployment has its servers to itself


class Proxy:
    """A TCP proxy on loopback, in a thread of its own: `cut()` drops every connection and
    refuses new ones (the network is gone), `heal()` lets them through again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.open = True
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            for w in (dst, writer if dst is not writer else up_writer):
                w.close()
                self._writers.discard(w)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        def drop() -> None:
            self.open = False
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()

        self._loop.call_soon_threadsafe(drop)

    def heal(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class Mailbox:
    """A real SMTP server's handler (aiosmtpd): every mail it accepts, kept with its Message-ID."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 — aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def by_message_id(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for message in self.messages:
            key = str(message["Message-ID"])
            counts[key] = counts.get(key, 0) + 1
        return counts


@dataclass
class Deployment:
    root: Path
    replicas: int = 2
    env_extra: dict[str, str] = field(default_factory=dict)
    # 3: a JetStream cluster of three nats-servers, streams with 3 copies, the services given every
    # node's URL (as `cchc up --cluster 3` runs them); `nats` is then its first node, and no proxy
    cluster: int = 0
    nats_cluster: EmbeddedNatsCluster | None = None
    nats: EmbeddedNats = field(init=False)
    postgres: EmbeddedPostgres = field(init=False)
    proxy: Proxy = field(init=False)
    mailbox: Mailbox = field(default_factory=Mailbox)
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    token: str = ""
    faults: list[str] = field(default_factory=list)  # what was done to it, in order
    poisoned: int = 0  # dead letters the poison injected so far must have made

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.root / "up"

    @property
    def failpoints(self) -> Path:
        return self.root / "failpoints"

    # --- starting and stopping -------------------------------------------------------------

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.failpoints.mkdir(exist_ok=True)
        self.postgres = EmbeddedPostgres(self.root / "postgres-server")
        if self.cluster:
            self.nats_cluster = EmbeddedNatsCluster(self.root / "nats-server", size=self.cluster)
            self.nats = self.nats_cluster.nodes[0]
            self.nats_cluster.start()
        else:
            self.nats = EmbeddedNats(self.root / "nats-server")
            self.nats.start()
            self.proxy = Proxy(self.nats.port)
        self.postgres.start()
        smtp_port = free_port()
        self._smtp = Controller(self.mailbox, hostname="127.0.0.1", port=smtp_port)
        self._smtp.start()
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
        env.update(
            CCHC_NATS_URL=self.nats_cluster.url if self.nats_cluster else self.proxy.url,
            CCHC_STREAM_REPLICAS="3" if self.cluster >= 3 else "1",
            CCHC_DATABASE_URL=self.postgres.url,
            CCHC_ADMIN_PASSWORD=ADMIN_PASSWORD,
            CCHC_GATEWAY_CACHE_SECONDS="0",
            CCHC_SWEEP_INTERVAL_SECONDS="2",
            CCHC_OUTBOX_POLL_SECONDS="0.5",
            CCHC_SMTP_HOST="127.0.0.1",
            CCHC_SMTP_PORT=str(smtp_port),
            CCHC_SMTP_STARTTLS="false",
            CCHC_DELIVERY_BACKOFF_SECONDS="1",
            CCHC_FAILPOINTS_DIR=str(self.failpoints),
            CCHC_HEAVY_WAIT_SECONDS="60",
            **self.env_extra,
        )
        self.data_dir.mkdir(exist_ok=True)
        self._output = (self.root / "up.log").open("ab")
        self.proc = subprocess.Popen(
            [*CCHC, "up", "--port", str(self.port), "--data-dir", str(self.data_dir), "--replicas", str(self.replicas)],
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        self.wait_healthy(timeout=180)

    async def log_in(self) -> None:
        """An API token with every right over the country, as another system would hold."""
        self.token = await operator_token(self.base_url)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        with contextlib.suppress(Exception):
            self._smtp.stop()
        with contextlib.suppress(Exception):
            self.proxy.close()
        self.postgres.stop()
        if self.nats_cluster:
            self.nats_cluster.stop()
        else:
            self.nats.stop()

    @property
    def nats_url(self) -> str:
        """Where NATS is, not through the proxy (a cluster: every node, comma-separated)."""
        return self.nats_cluster.url if self.nats_cluster else self.nats.url

    def output(self) -> str:
        return (self.root / "up.log").read_text(errors="replace")[-20000:]

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            answer = httpx.get(f"{self.base_url}/healthz", timeout=5)
        except httpx.HTTPError as exc:
            return 0, {"reason": repr(exc)}
        return answer.status_code, answer.json()

    def wait_healthy(self, *, timeout: float) -> float:  # noqa: ASYNC109 - a polling deadline
        """Seconds until the gateway says every replica is ready."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"cchc up exited {self.proc.returncode}:\n{self.output()}")
            if self.health()[0] == 200:
                return time.monotonic() - started
            time.sleep(0.5)
        raise AssertionError(f"not healthy within {timeout}s: {self.health()}\n{self.output()}")

    def client(self, timeout: float = 10.0) -> httpx.AsyncClient:  # noqa: ASYNC109 - an HTTP timeout
        return httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, headers={"Authorization": f"Bearer {self.token}"}
        )

    # --- the faults ------------------------------------------------------------------------

    def processes(self) -> dict[str, dict[str, Any]]:
        """Each service replica ("tasks", "tasks-2" …): its pid, port, restarts."""
        return dict(json.loads((self.data_dir / "services.json").read_text()))

    def kill_replica(self, name: str) -> int:
        pid = int(self.processes()[name]["pid"])
        os.kill(pid, signal.SIGKILL)
        self.faults.append(f"SIGKILL {name}")
        return pid

    def kill_nats(self) -> None:
        self.kill_node(self.nats, "SIGKILL nats-server")

    def start_nats(self) -> None:
        self.nats.start()  # same store, same port

    def node(self, server_name: str) -> EmbeddedNats:
        """The cluster's node of that server name (as JetStream's cluster info names it)."""
        assert self.nats_cluster is not None
        return next(n for n in self.nats_cluster.nodes if server_name == f"{n.cluster}-{n.name}")

    def kill_node(self, node: EmbeddedNats, fault: str | None = None) -> None:
        assert node.proc is not None
        node.proc.kill()
        node.proc.wait(10)
        self.faults.append(fault or f"SIGKILL cluster node {node.name}")

    def stop_postgres_hard(self) -> None:
        """`pg_ctl stop -m immediate`: no checkpoint, connections cut, recovery at the next start."""
        self.postgres._run("pg_ctl", ["-D", str(self.postgres.pgdata), "-m", "immediate", "-w", "stop"])
        self.faults.append("PostgreSQL immediate stop")

    def start_postgres(self) -> None:
        self.postgres.start()

    def arm(self, point: str) -> None:
        failpoints.arm(self.failpoints, point)
        self.faults.append(f"fail point {point}")

    def fired(self, point: str) -> int:
        return failpoints.fired(self.failpoints, point)

    def cpu_percent(self, seconds: float = 5.0) -> dict[str, float]:
        """Each replica's CPU use over `seconds`, in percent of one core."""
        procs = {name: psutil.Process(int(info["pid"])) for name, info in self.processes().items()}
        for proc in procs.values():
            proc.cpu_percent(None)
        time.sleep(seconds)
        return {name: proc.cpu_percent(None) for name, proc in procs.items()}

    # --- looking inside --------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def database(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(self.postgres.url)
        try:
            yield conn
        finally:
            await conn.close()

    @contextlib.asynccontextmanager
    async def bus(self) -> AsyncIterator[Any]:
        client = await nats.connect(self.nats_url.split(","))  # directly, not through the proxy
        try:
            yield client
        finally:
            await client.close()

    async def busy(self) -> list[str]:
        """What is in flight: consumers with pending or unacknowledged messages, unpublished
        outbox rows, deliveries due."""
        found: list[str] = []
        async with self.bus() as client:
            js = client.jetstream()
            for family in (*FAMILIES, DEAD_LETTER):
                with contextlib.suppress(NotFoundError):
                    for c in await js.consumers_info(stream_name(PREFIX, family)):
                        if c.num_pending or c.num_ack_pending:
                            # what a stuck consumer needs to be understood: whether anyone still
                            # pulls (waiting), how far it delivered and was acked, what it redelivers
                            found.append(
                                f"{c.name}: {c.num_pending} pending, {c.num_ack_pending} unacked"
                                f" (waiting pulls {c.num_waiting}, redelivered {c.num_redelivered},"
                                f" delivered {c.delivered.stream_seq if c.delivered else '?'},"
                                f" ack floor {c.ack_floor.stream_seq if c.ack_floor else '?'})"
                            )
        async with self.database() as db:
            for service in SERVICES:
                count = await db.fetchval(f"SELECT count(*) FROM {service}.outbox WHERE published_at IS NULL")
                if count:
                    found.append(f"{service}: {count} in the outbox")
            due = await db.fetchval(
                "SELECT count(*) FROM notify.deliveries WHERE status = 'pending'"
                " AND (next_attempt_at <= now() OR locked_until > now())"
            )
            if due:
                found.append(f"notify: {due} deliveries due")
        return found

    async def settled(self, *, timeout: float = 300.0) -> float:  # noqa: ASYNC109 - a polling deadline
        """Seconds until nothing is in flight (three quiet looks in a row, a second apart)."""
        started, quiet, last = time.monotonic(), 0, []
        while time.monotonic() - started < timeout:
            try:
                last = await self.busy()
            except (OSError, asyncpg.PostgresError, nats.errors.Error) as exc:
                last = [repr(exc)]
            quiet = 0 if last else quiet + 1
            if quiet >= 3:
                return time.monotonic() - started - 2.0
            await asyncio.sleep(1.0)
        log = (self.root / "up.log").read_text(errors="replace").splitlines()
        errors = [line for line in log if any(word in line for word in ("Traceback", "ERROR", "Exception", "Error:"))]
        raise AssertionError(
            f"not settled within {timeout}s: {last}\nerrors logged (last 40 of {len(errors)}):\n"
            + "\n".join(errors[-40:])
            + f"\n---\n{self.output()[-4000:]}"
        )

    async def dead_letters(self) -> list[dict[str, str]]:
        """The dead-letter stream's messages: their original subject and the reason."""
        found = []
        async with self.bus() as client:
            js = client.jetstream()
            try:
                info = await js.stream_info(stream_name(PREFIX, DEAD_LETTER))
            except NotFoundError:
                return []
            if not info.state.messages:
                return []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                with contextlib.suppress(NotFoundError):
                    msg = await js.get_msg(stream_name(PREFIX, DEAD_LETTER), seq)
                    headers = msg.headers or {}
                    found.append(
                        {
                            "id": headers.get("Nats-Msg-Id", f"seq-{seq}"),
                            "subject": headers.get("Cchc-Original-Subject", ""),
                            "error": headers.get("Cchc-Error", ""),
                            "dlq_subject": msg.subject or "",
                        }
                    )
        return found


@contextlib.asynccontextmanager
async def deployment(root: Path, **options: Any) -> AsyncIterator[Deployment]:
    made = Deployment(root, **options)
    try:
        await asyncio.to_thread(made.start)
        await made.log_in()
        yield made
    finally:
        await asyncio.to_thread(made.stop)


def port_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False
