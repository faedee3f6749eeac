"""`cchc up --cluster 3`: three embedded nats-servers in one JetStream cluster, with the users of a
single server, every stream kept in three copies; a node that dies is started again by `cchc up`
on its store and ports and catches up. Refusals that name what to change."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import nats
import psutil
import pytest

from cchc.nats_users import operator_settings
from shared import nats_security
from shared.events import DEAD_LETTER, FAMILIES, stream_name
from shared.settings import Settings
from tests.e2e.conftest import CCHC, embedded_nats_environment, start
from tests.servers import Servers

pytestmark = pytest.mark.e2e


async def stream_copies(data_dir: Path) -> dict[str, tuple[int, str, list[tuple[str, bool]]]]:
    """Each stream's configured copies, its leader and its other copies (name, current), read as the
    deployment's NATS operator."""
    settings = operator_settings(data_dir, Settings(nats_url=None))
    assert settings is not None
    client = await nats_security.connect(settings)
    try:
        js = client.jetstream()
        found = {}
        for family in (*FAMILIES, DEAD_LETTER):
            info = await js.stream_info(stream_name("cchc", family))
            cluster = info.cluster
            assert cluster is not None
            peers = [(p.name, bool(p.current and not p.offline)) for p in cluster.replicas or []]
            found[family] = (info.config.num_replicas or 1, cluster.leader or "", peers)
        return found
    finally:
        await client.close()


async def test_a_cluster_of_three_keeps_three_copies_and_a_dead_node_comes_back(
    tmp_path: Path, servers: Servers, database_url: str
) -> None:
    tmp_path.chmod(0o755)  # noqa: ASYNC240 - once, before anything runs
    data_dir = tmp_path / "data"
    running = start(
        data_dir, embedded_nats_environment(servers, database_url, "cl"), options=("--cluster", "3"), timeout=120
    )
    try:
        urls = (data_dir / "nats.url").read_text().split(",")
        assert len(urls) == 3
        assert [f"nats-{i}" for i in (1, 2, 3)] == sorted(p.stem for p in data_dir.glob("nats-*.pid"))
        children = {name: info for name, info in running.services().items()}
        assert children, "no service started"

        copies = await stream_copies(data_dir)
        for family, (replicas, leader, peers) in copies.items():
            assert replicas == 3, family
            assert leader.startswith("cchc-nats-"), family
            assert len(peers) == 2 and {leader, *(name for name, _ in peers)} == {
                "cchc-nats-1",
                "cchc-nats-2",
                "cchc-nats-3",
            }, family

        # every node runs with the deployment's users: a client without a password is refused
        with pytest.raises(nats.errors.Error):
            await nats.connect(urls[1], allow_reconnect=False, connect_timeout=3)

        pid = int((data_dir / "nats-2.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:  # the restart removes the dead node's pid file before it writes the new one
                now = int((data_dir / "nats-2.pid").read_text() or 0)
            except (FileNotFoundError, ValueError):
                now = pid
            if now != pid and psutil.pid_exists(now):
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError(f"nats-2 was not started again:\n{running.output.read_text()[-3000:]}")

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:  # a request may time out while the restarted node rejoins
                copies = await stream_copies(data_dir)
            except nats.errors.Error:
                await asyncio.sleep(0.5)
                continue
            if all(all(current for _, current in peers) for _, _, peers in copies.values()):
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError(f"copies not current after the restart: {copies}")
        assert "đang khởi động lại" in running.output.read_text()
    finally:
        running.stop()
    assert not (data_dir / "nats.url").exists()
    assert not list(data_dir.glob("nats-*.pid"))


@pytest.mark.parametrize(
    ("options", "env", "said"),
    [
        (("--cluster", "2"), {}, "cần số lẻ máy chủ"),
        (("--cluster", "3"), {"CCHC_NATS_URL": "nats://127.0.0.1:4222"}, "bỏ CCHC_NATS_URL"),
    ],
)
def test_a_cluster_that_cannot_be_made_is_refused_naming_why(
    tmp_path: Path, options: tuple[str, ...], env: dict[str, str], said: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    done = subprocess.run(
        [*CCHC, "up", "--port", "0", "--data-dir", str(tmp_path / "d"), *options],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert said in done.stderr + done.stdout
