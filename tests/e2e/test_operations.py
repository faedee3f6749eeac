"""Operating `cchc up`: restarts keep data, a killed service loses nothing, clean stops, clear errors."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.conftest import CCHC, Running, operated, start
from tests.e2e.steps import (
    THIS_YEAR,
    all_rolled_up,
    burst_outputs,
    eventually,
    issue,
    post_until_accepted,
    province_assignments,
    quarterly_plan,
    report_burst,
)

pytestmark = pytest.mark.e2e


async def test_killing_the_tasks_process_while_reports_flow_loses_no_report(system_up: Running) -> None:
    year = THIS_YEAR + 1
    async with await operated(system_up.base_url) as api:
        targets = await province_assignments(api, year, "21/KH-UBND")
        tasks_pid = system_up.services()["tasks"]["pid"]

        async def kill() -> None:
            os.kill(tasks_pid, signal.SIGKILL)

        await report_burst(api, targets, year, midway=kill)
        assert system_up.services()["tasks"]["pid"] != tasks_pid  # the supervisor restarted it

        body = await eventually(lambda: all_rolled_up(api, year), timeout=60)
        assert body["outputs"] == burst_outputs(len(targets))
        for code in list(targets)[::27]:
            detail = (await api.get(f"/api/assignments/{targets[code]}")).json()
            assert detail["status"] == "done_on_time" and len(detail["history"]) >= 1


async def test_a_second_up_on_the_same_data_dir_finds_the_data_again(data_dir: Path, up_env: dict[str, str]) -> None:
    first = start(data_dir, up_env)
    try:
        async with await operated(first.base_url) as api:
            await api.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
            await issue(api, quarterly_plan(THIS_YEAR + 1, "30/KH-UBND"))
    finally:
        first.stop()
    second = start(data_dir, up_env)
    try:
        async with await operated(second.base_url) as api:
            plans = (await api.get("/api/plans", params={"issuer": "52"})).json()["items"]
            assert [p["number"] for p in plans] == ["30/KH-UBND"]
            assert len((await api.get("/api/units", params={"parent": "52"})).json()["items"]) == 135
    finally:
        second.stop()


def test_sigterm_stops_every_process_it_started_within_seconds(system_up: Running) -> None:
    children = [info["pid"] for info in system_up.services().values()]
    embedded = [p for p in psutil.Process(system_up.proc.pid).children(recursive=True)]
    elapsed = system_up.stop()
    assert system_up.proc.returncode == 0, system_up.output.read_text()
    assert elapsed < 20
    assert not [pid for pid in children if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert not [p for p in embedded if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert "Đã dừng." in system_up.output.read_text()


def test_a_taken_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*CCHC, "up", "--port", str(port), "--data-dir", str(tmp_path / "d")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"Lỗi: cổng {port} trên 127.0.0.1 đang được dùng; chọn cổng khác với --port"
    ]


def test_a_data_dir_that_cannot_be_written_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = subprocess.run(
        [*CCHC, "up", "--port", "0", "--data-dir", str(blocker / "data")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Lỗi: thư mục dữ liệu") and "không ghi được" in lines[0]


def test_a_server_that_will_not_come_up_is_a_one_line_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "nats").write_text("a file where the JetStream store should be")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    result = subprocess.run(
        [*CCHC, "up", "--port", "0", "--data-dir", str(data)], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Lỗi: nats-server không khởi động được"), result.stderr


def _processes_using(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(data_dir) in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE and "pytest" not in cmdline:
            found.append(proc)
    return found


def test_sigterm_during_start_up_leaves_no_server_running(data_dir: Path, up_env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [*CCHC, "up", "--port", "0", "--data-dir", str(data_dir)],
        env=up_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not (data_dir / "nats.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    time.sleep(1)
    assert [
        p.info["cmdline"][0] for p in _processes_using(data_dir) if "cchc.cli" not in " ".join(p.info["cmdline"])
    ] == []


def test_a_hard_killed_up_takes_its_services_down_and_the_next_up_recovers(
    data_dir: Path, up_env: dict[str, str]
) -> None:
    first = start(data_dir, up_env)
    pids = [info["pid"] for info in first.services().values()]
    first.proc.kill()
    first.proc.wait(10)
    deadline = time.monotonic() + 20
    while any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids):
        assert time.monotonic() < deadline, "service processes outlived their supervisor"
        time.sleep(0.2)
    second = start(data_dir, up_env)  # stale nats-server and PostgreSQL of the first are dealt with
    try:
        assert httpx.get(f"{second.base_url}/healthz", timeout=5).status_code == 200
    finally:
        second.stop()


@pytest.mark.parametrize("server", ["nats", "postgres"])
async def test_a_killed_embedded_server_is_started_again_and_the_system_goes_on(
    system_up: Running, server: str
) -> None:
    """`cchc up` supervises the nats-server and PostgreSQL it started, not only the services: one
    killed with SIGKILL comes back on the same data and port, and events flow again end to end."""
    if not (system_up.data_dir / "nats.pid").exists():
        pytest.skip("the servers are external (CCHC_NATS_URL / CCHC_DATABASE_URL): cchc up started none")
    year = THIS_YEAR + 1
    async with await operated(system_up.base_url) as api:
        await api.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
        pidfile = system_up.data_dir / ("nats.pid" if server == "nats" else "postgres/postmaster.pid")
        killed = int(pidfile.read_text().split("\n", 1)[0])
        os.kill(killed, signal.SIGKILL)

        def restarted() -> bool:
            try:
                pid = int(pidfile.read_text().split("\n", 1)[0])
            except (OSError, ValueError):
                return False
            return pid != killed and psutil.pid_exists(pid)

        deadline = time.monotonic() + 60
        while not restarted():
            assert time.monotonic() < deadline, f"{server} was not started again:\n{system_up.output.read_text()}"
            await asyncio.sleep(0.2)

        # a plan issued after the restart reaches tasks (its assignments) and reports (the roll-up)
        created = await post_until_accepted(api, "/api/plans", quarterly_plan(year, "31/KH-UBND"), tries=900)
        assert created.status_code == 201, created.text
        issued = await post_until_accepted(api, f"/api/plans/{created.json()['id']}/issue", {}, tries=900)
        assert issued.status_code == 200, issued.text

        async def rolled_up() -> dict | None:
            answer = await api.get("/api/reports/rollup", params={"unit": "52", "period": f"{year}-Q2"})
            body = answer.json() if answer.status_code == 200 else {}
            return body if body.get("expected") == 135 else None

        await eventually(rolled_up, timeout=90)
    assert "khởi động lại" in system_up.output.read_text()
