"""The NATS rights written into the server's configuration (shared/nats_security.py) follow from
what each service publishes and consumes; compose gives each container its own user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cchc.nats_users import accesses
from shared.migrations import SERVICES
from shared.nats_security import Reader, redact
from shared.settings import Settings

pytestmark = pytest.mark.unit

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def rights(name: str) -> dict[str, Any]:
    by_name = {access.name: access for access in accesses(Settings(nats_prefix="cchc"))}
    return by_name[name].permissions("cchc")


def test_only_tasks_may_publish_progress_and_only_reports_may_publish_report_decisions() -> None:
    published = {name: rights(name)["publish"]["allow"] for name in SERVICES}
    assert "cchc.progress.reported.>" in published["tasks"]
    assert "cchc.report.accepted.>" in published["reports"]
    for name, allowed in published.items():
        if name != "tasks":
            assert not any(s.startswith("cchc.progress.") for s in allowed), name
        if name != "reports":
            assert not any(s.startswith("cchc.report.") for s in allowed), name
        assert f"cchc.dlq.{name}.>" in allowed
        assert not any(">" in s and s.startswith("$JS.API") for s in allowed), name  # no API wildcard
        assert not any(verb in s for s in allowed for verb in ("CREATE", "DELETE", "PURGE", "UPDATE")), name


def test_a_service_pulls_and_acks_only_its_own_consumers_and_reads_only_its_own_inbox() -> None:
    tasks = rights("tasks")
    assert "$JS.API.CONSUMER.MSG.NEXT.CCHC_PLAN.tasks-plan-issued" in tasks["publish"]["allow"]
    assert "$JS.ACK.CCHC_PLAN.tasks-plan-issued.>" in tasks["publish"]["allow"]
    assert not any("reports-" in s for s in tasks["publish"]["allow"])
    assert tasks["subscribe"]["allow"] == ["_INBOX_tasks.>"]


def test_a_reader_of_52_has_consumers_filtered_to_52_and_its_subtree_and_may_only_pull_them() -> None:
    reader = Reader("readonly-52", "52", "cchc")
    filters = {config.filter_subjects[1] for _, config in reader.consumers() if config.filter_subjects}
    assert "cchc.progress.*.52.>" in filters and "cchc.plan.*.52.>" in filters
    allowed = reader.permissions()["publish"]["allow"]
    assert allowed and all(s.startswith(("$JS.API.CONSUMER.MSG.NEXT.", "$JS.ACK.")) for s in allowed)
    assert all(".readonly-52-" in s for s in allowed)


@pytest.mark.parametrize("unit", ["52.>", "*", "52..1", "", "52 48"])
def test_a_reader_unit_with_wildcards_or_empty_segments_is_refused(unit: str) -> None:
    with pytest.raises(ValueError, match="đơn vị"):
        Reader("readonly-x", unit, "cchc")


def test_urls_are_shown_without_their_password() -> None:
    assert redact("nats://tasks:s3cret@nats:4222") == "nats://tasks:***@nats:4222"
    assert redact("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


def test_compose_gives_each_service_its_own_nats_user_and_password_secret_and_migrate_the_operator() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in SERVICES:
        env = services[name]["environment"]
        assert env["CCHC_NATS_USER"] == name
        assert env["CCHC_NATS_PASSWORD_FILE"] == f"/run/secrets/nats-{name}"
        assert [s for s in services[name]["secrets"] if s.startswith("nats-")] == [f"nats-{name}"]
        assert "CCHC_NATS_PASSWORD" not in env  # no literal
    assert services["migrate"]["environment"]["CCHC_NATS_USER"] == "operator"
    assert "include ./auth.conf" in (DEPLOY / "nats.conf").read_text()
    assert any(v.endswith(":/etc/nats/auth.conf:ro") for v in services["nats"]["volumes"])
