"""deploy/docker-compose.yml is consistent with the project (no Docker engine runs here, so the
file is checked, not run): services, commands, environment, ports, routes and the image."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from typer.main import get_command

from cchc.cli import app as cli
from cchc.routes import ROUTES
from cchc.supervisor import Supervisor
from shared.migrations import SERVICES
from shared.runtime import STOP_SECONDS
from shared.settings import Settings

pytestmark = pytest.mark.unit

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
SERVICES_IN_COMPOSE: dict[str, Any] = COMPOSE["services"]
CLI_COMMANDS = set(get_command(cli).commands)  # type: ignore[attr-defined]


def test_the_four_services_run_from_the_project_image_with_existing_commands() -> None:
    for name in SERVICES:
        service = SERVICES_IN_COMPOSE[name]
        assert service["image"] == SERVICES_IN_COMPOSE["migrate"]["image"]
        assert service["command"] == ["cchc", "service", name]
        assert "healthcheck" in service
    for name, service in SERVICES_IN_COMPOSE.items():
        command = service.get("command") or []
        if command[:1] == ["cchc"]:
            assert command[1] in CLI_COMMANDS, f"{name}: `cchc {command[1]}` does not exist"


def duration_seconds(text: str) -> float:
    """A compose duration: "20s", "1m30s", "1500ms"."""
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"not a duration: {text!r}"
    return sum(float(n) * units[u] for n, u in parts)


def test_a_stopped_service_is_given_longer_than_its_drain_before_it_is_killed() -> None:
    """SIGTERM drains a service within shared.runtime.STOP_SECONDS (events being handled finish and
    are acked, the others nak'd, the outbox published); killed sooner, what it held waits ack_wait."""
    assert duration_seconds("1m30s") == 90 and duration_seconds("20s") == 20
    for name in SERVICES:
        grace = duration_seconds(str(SERVICES_IN_COMPOSE[name]["stop_grace_period"]))
        assert grace > STOP_SECONDS, f"{name}: stop_grace_period {grace:g} s, drain up to {STOP_SECONDS:g} s"
    waits = inspect.signature(Supervisor.stop).parameters["timeout"].default  # `cchc up` stopping
    assert waits > STOP_SECONDS


def interpolated(value: str, env: dict[str, str] | None = None) -> str:
    """A compose value with its `${NAME:-default}` filled from `env` (what --env-file gives)."""
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: (env or {}).get(m[1]) or m[2], value)


def env_file(path: Path) -> dict[str, str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_official_nats_with_jetstream_and_postgres_images_with_volumes_and_health_checks() -> None:
    nats, postgres = SERVICES_IN_COMPOSE["nats"], SERVICES_IN_COMPOSE["postgres"]
    assert nats["image"].startswith("nats:") and postgres["image"].startswith("postgres:")
    conf = (DEPLOY / "nats.conf").read_text()
    assert "jetstream" in conf and "sync_interval: always" in conf
    assert any(v.endswith(":/etc/nats/nats.conf:ro") for v in nats["volumes"])
    for service in (nats, postgres):
        assert "healthcheck" in service
        volume = service["volumes"][0].split(":")[0]
        assert volume in COMPOSE["volumes"]


def test_service_environment_names_real_settings_and_reachable_servers() -> None:
    fields = {f"CCHC_{name.upper()}" for name in Settings.model_fields}
    postgres_env = SERVICES_IN_COMPOSE["postgres"]["environment"]
    for name in (*SERVICES, "migrate"):
        env = SERVICES_IN_COMPOSE[name]["environment"]
        assert set(env) <= fields, set(env) - fields
        nats_url, db_url = urlparse(interpolated(env["CCHC_NATS_URL"])), urlparse(env["CCHC_DATABASE_URL"])
        assert (nats_url.hostname, nats_url.port) == ("nats", 4222)
        assert (db_url.hostname, db_url.port) == ("postgres", 5432)
        if name == "migrate":  # the admin: it makes the roles and migrates as their owners
            assert (db_url.username, db_url.password) == (postgres_env["POSTGRES_USER"], None)
            assert (
                env["CCHC_DATABASE_PASSWORD_FILE"] == postgres_env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/pg-admin"
            )
        else:  # a service: its own run-time role, the password from its own secret
            assert (db_url.username, db_url.password) == (f"cchc_{name}", None)
            assert env["CCHC_DATABASE_PASSWORD_FILE"] == f"/run/secrets/pg-{name}"
            assert f"pg-{name}" in SERVICES_IN_COMPOSE[name]["secrets"]
            assert COMPOSE["secrets"][f"pg-{name}"]["file"] == f"./secrets/postgres/postgres-{name}.password"
        assert db_url.path == "/" + postgres_env["POSTGRES_DB"]
        otlp = urlparse(env["CCHC_OTLP_ENDPOINT"]).hostname
        assert otlp in SERVICES_IN_COMPOSE


def test_the_proxy_sends_everything_to_the_gateway_which_knows_every_service() -> None:
    """The gateway exchanges credentials, so nothing may go past it to a service."""
    conf = (DEPLOY / "nginx.conf").read_text()
    locations = dict(re.findall(r"location (\S+) \{ proxy_pass http://([\w-]+):\d+; \}", conf))
    assert locations == {"/": "gateway"}
    port = SERVICES_IN_COMPOSE["plans"]["environment"]["CCHC_SERVICE_PORT"]
    assert re.findall(r"proxy_pass http://[\w-]+:(\d+);", conf) == [port]
    proxy = SERVICES_IN_COMPOSE["proxy"]
    assert any(v.startswith("./nginx.conf:") for v in proxy["volumes"]) and proxy["ports"]
    gateway_env = SERVICES_IN_COMPOSE["gateway"]["environment"]
    upstreams = {k: v for k, v in gateway_env.items() if k.startswith("CCHC_UPSTREAM_")}
    assert upstreams == {f"CCHC_UPSTREAM_{s.upper()}": f"http://{s}:{port}" for s in SERVICES}
    assert set(ROUTES.values()) == set(SERVICES)
    for name in SERVICES:  # no service publishes a port of its own
        assert "ports" not in SERVICES_IN_COMPOSE[name], name


def test_the_image_is_built_from_the_project_sources() -> None:
    build = SERVICES_IN_COMPOSE["migrate"]["build"]
    assert build["context"] == ".."  # the project root, seen from deploy/
    text = (DEPLOY.parent / build["dockerfile"]).read_text()
    packages = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    folders = [name.rstrip("*") for name in packages["find"]["include"]]
    assert "web" in folders
    for folder in folders:  # every package the project installs is in the image
        assert f"COPY {folder} ./{folder}" in text
        assert (DEPLOY.parent / folder).is_dir()
    assert "pip install" in text
    assert SERVICES_IN_COMPOSE["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


def test_no_password_or_key_is_written_in_the_compose_file_and_each_container_gets_only_its_own() -> None:
    """Passwords and keys come from files (compose secrets); the signing key reaches only plans,
    the key of secrets at rest only notify, the gateway's secret only plans and the gateway."""
    for name, service in SERVICES_IN_COMPOSE.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|KEY", key) and not key.endswith(("_FILE", "_DIR")):
                raise AssertionError(f"{name}: {key} is given inline ({value!r}); use a secret file")
        for secret in service.get("secrets", []):
            assert secret in COMPOSE["secrets"], f"{name}: secret {secret} is not defined"
    holders = {
        secret: {name for name, s in SERVICES_IN_COMPOSE.items() if secret in s.get("secrets", [])}
        for secret in COMPOSE["secrets"]
    }
    assert holders["token-signing-key"] == {"plans"}
    assert holders["secrets-key"] == {"notify"}
    assert holders["gateway-secret"] == {"plans", "gateway"}
    assert holders["token-keys"] == set(SERVICES)
    for name in SERVICES:
        assert SERVICES_IN_COMPOSE[name]["environment"]["CCHC_AUTH_JWKS_FILE"] == "/run/secrets/token-keys"
    keycloak = SERVICES_IN_COMPOSE["keycloak"]
    assert keycloak["profiles"] == ["keycloak"]
    assert any(v.startswith("./keycloak:") for v in keycloak["volumes"])
    realm = (DEPLOY / "keycloak" / "realm-cchc.json").read_text()
    assert '"claim.name": "cchc_unit"' in realm and '"claim.name": "cchc_roles"' in realm


def test_the_cluster_profile_runs_three_nats_nodes_the_services_know_and_streams_in_three_copies() -> None:
    cluster = env_file(DEPLOY / "cluster.env")
    nodes = ["nats", *(name for name, svc in SERVICES_IN_COMPOSE.items() if "cluster" in svc.get("profiles", []))]
    assert nodes == ["nats", "nats-2", "nats-3"]
    conf_path = interpolated(SERVICES_IN_COMPOSE["nats"]["command"][1], cluster)
    names, stores = set(), set()
    for node in nodes:
        svc = SERVICES_IN_COMPOSE[node]
        assert interpolated(svc["command"][1], cluster) == conf_path  # every node reads the cluster's file
        assert any(v.endswith(f":{conf_path}:ro") for v in svc["volumes"])
        assert any(v.endswith(":/etc/nats/auth.conf:ro") for v in svc["volumes"])  # the same users
        stores.add(svc["volumes"][0].split(":")[0])
        names.add(svc["environment"]["SERVER_NAME"])
        assert "healthcheck" in svc
    assert len(stores) == 3 and stores <= set(COMPOSE["volumes"])  # a store of its own each
    assert len(names) == 3
    conf = (DEPLOY / Path(conf_path).name).read_text()
    routes = set(re.findall(r"nats-route://([\w-]+):6222", conf))
    assert routes == set(nodes) and "listen: 0.0.0.0:6222" in conf
    assert "server_name: $SERVER_NAME" in conf and "sync_interval: always" in conf
    # what the services are given: every node, and streams kept in three copies
    for name in (*SERVICES, "migrate"):
        env = SERVICES_IN_COMPOSE[name]["environment"]
        urls = [urlparse(u) for u in interpolated(env["CCHC_NATS_URL"], cluster).split(",")]
        assert sorted((u.hostname, u.port) for u in urls) == sorted((node, 4222) for node in nodes)
        assert interpolated(env["CCHC_STREAM_REPLICAS"], cluster) == "3"
        assert interpolated(env["CCHC_STREAM_REPLICAS"]) == "1"  # without the profile: one server
    assert Settings(nats_url=interpolated(env["CCHC_NATS_URL"], cluster)).nats_servers == [
        f"nats://{node}:4222" for node in nodes
    ]


def test_the_cluster_configuration_is_accepted_by_nats_server(tmp_path: Path) -> None:
    """nats-server's own check (-t) of the cluster file, as a node reads it (its users beside it)."""
    import os
    import subprocess

    from shared.servers import nats_server_binary

    (tmp_path / "nats-cluster.conf").write_text((DEPLOY / "nats-cluster.conf").read_text())
    (tmp_path / "auth.conf").write_text("")
    done = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(tmp_path / "nats-cluster.conf")],
        env={**os.environ, "SERVER_NAME": "nats-2"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
