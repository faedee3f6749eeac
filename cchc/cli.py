"""`cchc` command line: `up` runs the whole system (`demo`: the same, filled with demo data);
`migrate`, `service` and `gateway` run one part (as deploy/docker-compose.yml does);
`deliveries` lists and re-drives failed deliveries of notifications through the HTTP API of a
running system; `plans parse` reads a plan document (.docx, text, PDF or a scan) into a draft, with no server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import platformdirs
import typer
import uvicorn

from cchc import accounts_cli, dead_letters_cli, nats_users
from cchc.client import api, every, fail
from shared.db_roles import provision
from shared.federation import UNIT_PATH, HubLink
from shared.migrations import SERVICES
from shared.nats_security import redact
from shared.servers import EmbeddedNats, EmbeddedNatsCluster, EmbeddedPostgres, ServerError, free_port, port_is_free
from shared.settings import Settings
from shared.text import grouped

app = typer.Typer(add_completion=False, help="CCHC: kế hoạch tuyên truyền cải cách hành chính.")


def _writable(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise fail(f"thư mục dữ liệu {data_dir} không ghi được ({exc.strerror or exc})") from None


PortOption = Annotated[int, typer.Option(help="Cổng của địa chỉ chung (base URL)")]
HostOption = Annotated[str, typer.Option(help="Địa chỉ lắng nghe")]
DataDirOption = Annotated[Path, typer.Option(help="Thư mục dữ liệu (NATS, PostgreSQL, nhật ký)")]
DATA_DIR = Path(platformdirs.user_data_dir("cchc"))


DurableOption = Annotated[
    bool,
    typer.Option(
        "--durable",
        help="NATS nhúng ghi đĩa (fsync) từng sự kiện trước khi xác nhận: không mất sự kiện khi mất điện, chậm hơn",
    ),
]


ReplicasOption = Annotated[
    int,
    typer.Option(
        "--replicas",
        min=1,
        max=8,
        help="Số tiến trình của mỗi dịch vụ, cùng nhận sự kiện (durable consumer chung); cổng chung chia yêu cầu",
    ),
]


ClusterOption = Annotated[
    int,
    typer.Option(
        "--cluster",
        min=1,
        max=7,
        help=(
            "Số nats-server của một cụm JetStream nhúng (3 hoặc 5): mỗi luồng sự kiện có 3 bản sao trên các "
            "máy chủ khác nhau, mất một máy chủ không mất sự kiện; 1: một máy chủ"
        ),
    ),
]


LeafnodesOption = Annotated[
    int | None,
    typer.Option(
        "--leafnodes",
        min=1,
        max=65535,
        help=(
            "Trung tâm (hub): cổng nhận kết nối leaf node của các trạm (--sites); in tệp đăng nhập của "
            "từng trạm ở <dữ liệu>/secrets/nats/site-<đơn vị>.json"
        ),
    ),
]
SitesOption = Annotated[
    str | None,
    typer.Option(
        "--sites",
        help="Trung tâm: mã đường dẫn các đơn vị có trạm riêng, cách nhau dấu phẩy (ví dụ 52.21787,52.21853)",
    ),
]
SiteOption = Annotated[
    str | None,
    typer.Option("--site", help="Chạy một trạm (xã, huyện cũ, tỉnh) cho đơn vị này (mã đường dẫn, ví dụ 52.21787)"),
]
HubCredentialsOption = Annotated[
    Path | None,
    typer.Option("--hub-credentials", help="Trạm: tệp đăng nhập leaf node do trung tâm cấp (site-<đơn vị>.json)"),
]
HubOption = Annotated[
    str | None,
    typer.Option("--hub", help="Trạm: địa chỉ leaf node của trung tâm (nats-leaf://máy:cổng); mặc định lấy trong tệp"),
]


@app.command()
def up(
    port: PortOption = 8000,
    host: HostOption = "127.0.0.1",
    data_dir: DataDirOption = DATA_DIR,
    durable: DurableOption = False,
    replicas: ReplicasOption = 1,
    cluster: ClusterOption = 1,
    leafnodes: LeafnodesOption = None,
    sites: SitesOption = None,
    site: SiteOption = None,
    hub_credentials: HubCredentialsOption = None,
    hub: HubOption = None,
) -> None:
    """Chạy toàn bộ hệ thống: NATS, PostgreSQL (nhúng nếu chưa cấu hình URL), 4 dịch vụ, một địa chỉ chung.
    Trung tâm có trạm: --leafnodes CỔNG --sites ĐƠN-VỊ,…; một trạm: --site ĐƠN-VỊ --hub-credentials TỆP."""
    federation = _federation_options(leafnodes=leafnodes, sites=sites, site=site, credentials=hub_credentials, hub=hub)
    run_system(
        port=port,
        host=host,
        data_dir=data_dir,
        durable=durable,
        replicas=replicas,
        cluster=cluster,
        federation=federation,
    )


def _federation_options(
    *, leafnodes: int | None, sites: str | None, site: str | None, credentials: Path | None, hub: str | None
) -> FederationOptions | None:
    """The hub's or the site's options, checked; None for a deployment of its own."""
    if site and (leafnodes or sites):
        raise fail("một hệ thống là trạm (--site) hoặc trung tâm (--leafnodes, --sites), không cả hai")
    if site:
        if credentials is None:
            raise fail("--site cần --hub-credentials: tệp đăng nhập do trung tâm cấp (cchc up --leafnodes … --sites …)")
        try:
            link = HubLink.read(credentials)
        except (OSError, ValueError) as exc:
            raise fail(f"không đọc được tệp đăng nhập trạm {credentials}: {exc}") from None
        if link.site != site:
            raise fail(f"tệp {credentials} cấp cho trạm {link.site}, không phải {site}")
        return FederationOptions(site=site, link=link.with_url(hub) if hub else link)
    if bool(leafnodes) != bool(sites):
        raise fail("trung tâm cần cả --leafnodes (cổng) và --sites (các đơn vị có trạm)")
    if leafnodes and sites:
        paths = [s.strip() for s in sites.split(",") if s.strip()]
        bad = [p for p in paths if not UNIT_PATH.fullmatch(p)]
        if bad:
            raise fail(f"--sites: {', '.join(bad)} không phải mã đường dẫn đơn vị (ví dụ 52.21787)")
        return FederationOptions(sites=paths, leaf_port=leafnodes)
    return None


@dataclass(frozen=True)
class FederationOptions:
    """`cchc up` as a hub (`sites`, `leaf_port`) or as a site (`site`, `link`)."""

    sites: list[str] = field(default_factory=list)
    leaf_port: int = 0
    site: str | None = None
    link: HubLink | None = None


@app.command()
def demo(port: PortOption = 8000, host: HostOption = "127.0.0.1", data_dir: DataDirOption = DATA_DIR) -> None:
    """Chạy toàn bộ hệ thống như `cchc up` và nạp dữ liệu mẫu (tỉnh Gia Lai, 135 xã, một năm kế hoạch và
    báo cáo); in địa chỉ và các tài khoản mẫu. Chạy lại trên cùng thư mục dữ liệu: không nạp lại."""
    from cchc.demo import Demo

    run_system(port=port, host=host, data_dir=data_dir, when_serving=Demo(data_dir.expanduser().resolve()).load)


def run_system(
    *,
    port: int,
    host: str,
    data_dir: Path,
    durable: bool = False,
    replicas: int = 1,
    cluster: int = 1,
    federation: FederationOptions | None = None,
    when_serving: Callable[[str], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """The whole system until Ctrl-C or SIGTERM, then everything it started is stopped. With
    `when_serving`, that coroutine runs beside the gateway once it listens, given the base URL
    (`cchc demo` loads its data so); if it fails, the system stops and says why."""
    if not port_is_free(host, port):
        raise fail(f"cổng {port} trên {host} đang được dùng; chọn cổng khác với --port")
    data_dir = data_dir.expanduser().resolve()
    _writable(data_dir)
    settings = Settings()
    if cluster > 1:
        if settings.nats_url:
            raise fail(
                "--cluster chạy cụm NATS nhúng: bỏ CCHC_NATS_URL (cụm có sẵn: liệt kê mọi máy chủ trong CCHC_NATS_URL, "
                "cách nhau dấu phẩy, và đặt CCHC_STREAM_REPLICAS=3)"
            )
        if cluster % 2 == 0:
            raise fail(f"--cluster {cluster}: cần số lẻ máy chủ (3 hoặc 5) để JetStream luôn có đa số")
        if federation and federation.site:
            raise fail("một trạm chạy một nats-server: bỏ --cluster (cụm dành cho trung tâm, --leafnodes)")
        # a write is kept once a majority of its 3 copies has it: any one node may go
        settings = settings.model_copy(update={"stream_replicas": 3})
    if federation and settings.nats_url:
        raise fail("trạm và trung tâm chạy NATS nhúng (leaf node, domain JetStream): bỏ CCHC_NATS_URL")
    if federation and federation.site:
        settings = settings.model_copy(update={"site": federation.site})
    elif federation:
        settings = settings.model_copy(update={"sites": federation.sites})
    started: list[EmbeddedNats | EmbeddedPostgres] = []
    # SIGTERM unwinds like Ctrl-C from the first moment, so whatever was started gets stopped.
    # (uvicorn re-raises the signal it caught after its graceful stop; it arrives here too.)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    supervisor = None
    try:
        nats_url, database_url = settings.nats_url, settings.database_url
        nats_auth = None
        if not nats_url:
            # a user per service and an operator, passwords in <data>/secrets/nats (cchc/nats_users.py)
            nats_auth = nats_users.prepare_embedded(data_dir, settings)
            if cluster > 1:
                hub: dict[str, Any] = {}
                if federation:  # a hub cluster: every node in the hub's domain, each with a leaf port
                    hub = {"domain": settings.hub_domain, "leafnodes": True, "leaf_port": federation.leaf_port}
                nodes = EmbeddedNatsCluster(
                    data_dir, size=cluster, config=nats_auth.config, durable=durable, leaf_host=host, **hub
                )
                if federation:  # each site's credentials name every node's leaf port
                    _site_credentials(federation, settings, nats_auth, url=nodes.leaf_urls(host))
                started.extend(nodes.nodes)  # each node stopped, and restarted by keep_up, on its own
                nats_url = nodes.start()
            else:
                nats = EmbeddedNats(
                    data_dir,
                    config=nats_auth.config,
                    durable=durable,
                    **(_leaf_settings(federation, settings, nats_auth, host=host) if federation else {}),
                )
                started.append(nats)  # before start(): a signal mid-start still stops it
                nats_url = nats.start()
        if not database_url:
            pg = EmbeddedPostgres(data_dir)
            started.append(pg)
            database_url = pg.start()
        try:
            # a role per service (shared/db_roles.py), passwords in <data>/secrets/postgres
            service_urls = provision(
                database_url, passwords_dir=_postgres_secrets(settings, data_dir), prefix=settings.database_role_prefix
            )
        except Exception as exc:  # noqa: BLE001 - one line for the operator, details in the trace log
            raise fail(f"không áp dụng được migration cơ sở dữ liệu: {exc.__class__.__name__}: {exc}") from None
        _provision_nats(nats_auth.operator(settings, nats_url) if nats_auth else settings, nats_auth)

        from cchc.credentials import ensure_auth_files
        from cchc.supervisor import Supervisor

        auth_files = ensure_auth_files(data_dir)
        first_admin = _first_admin(database_url, data_dir, settings)
        public_url = f"http://{host}:{port}"
        supervisor = Supervisor(
            names=list(SERVICES),
            ports={
                name if index == 0 else f"{name}-{index + 1}": free_port()
                for name in SERVICES
                for index in range(replicas)
            },
            replicas=replicas,
            env={
                "CCHC_NATS_URL": nats_url,
                **({"CCHC_STREAM_REPLICAS": str(settings.stream_replicas)} if settings.stream_replicas else {}),
                **({"CCHC_SITE": settings.site} if settings.site else {}),
                **({"CCHC_SITES": json.dumps(settings.sites)} if settings.sites else {}),
                "CCHC_PUBLIC_URL": public_url,
                **auth_files.service_env(),
            },
            child_env={
                name: {
                    "CCHC_DATABASE_URL": service_urls[name],  # its own run-time role, not the admin
                    **(auth_files.plans_env() if name == "plans" else {}),
                    **(auth_files.notify_env() if name == "notify" else {}),
                    **(nats_auth.service_env(name) if nats_auth else {}),  # its own NATS user only
                }
                for name in SERVICES
            },
            run_dir=data_dir,
        )
        supervisor.start()
        nats_logs = f"nats-1…{cluster}.log" if cluster > 1 else "nats.log"
        typer.echo(
            f"CCHC đang chạy tại {public_url}\n"
            f"  API: {public_url}/docs · sự kiện (AsyncAPI): {public_url}/asyncapi.json\n"
            f"  Sức khỏe: {public_url}/healthz\n"
            f"  Dữ liệu: {data_dir}\n"
            f"  Nhật ký: {data_dir / 'logs'} ({nats_logs}, postgres/server.log ở {data_dir})\n"
            f"  NATS: {redact(nats_url)} · PostgreSQL: {redact(database_url)}\n"
            f"Nhấn Ctrl-C để dừng."
        )
        if first_admin:
            typer.echo(first_admin)
        gateway_settings = settings.model_copy(
            update={"public_url": public_url, "gateway_secret_file": str(auth_files.gateway_secret)}
        )
        asyncio.run(
            _serve(
                supervisor,
                host=host,
                port=port,
                settings=gateway_settings,
                servers=list(started),
                when_serving=when_serving,
            )
        )
    except KeyboardInterrupt:
        typer.echo("Đang dừng các dịch vụ…")
    except ServerError as exc:
        raise fail(str(exc)) from None
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if supervisor is not None:
            with contextlib.suppress(Exception):
                supervisor.stop()
        for server in reversed(started):
            with contextlib.suppress(Exception):
                server.stop()
        (data_dir / "nats.url").unlink(missing_ok=True)  # a cluster's, written by none of its nodes alone
    typer.echo("Đã dừng.")


def _leaf_settings(
    federation: FederationOptions, settings: Settings, nats_auth: nats_users.EmbeddedAuth, *, host: str
) -> dict[str, Any]:
    """The embedded nats-server's leaf node settings: a hub's domain and port (its sites' users
    are in its users' file), writing each site's credentials for the operator to hand over; or a
    site's domain and link to its hub."""
    from shared.federation import domain_of

    if federation.site and federation.link:
        return {
            "domain": domain_of(federation.site),
            "hub": federation.link.url_with_credentials(),
            "not_across": [f"{settings.nats_prefix}.>"],
        }
    _site_credentials(federation, settings, nats_auth, url=f"nats-leaf://{host}:{federation.leaf_port}")
    # the sites' links come to the address the system serves on (--host), not only to loopback
    return {"domain": settings.hub_domain, "leaf_port": federation.leaf_port, "leaf_host": host}


def _site_credentials(
    federation: FederationOptions, settings: Settings, nats_auth: nats_users.EmbeddedAuth, *, url: str
) -> None:
    """Each site's credentials on this hub, written for the operator to hand over."""
    from shared.federation import domain_of

    for site in federation.sites:
        user = domain_of(site)
        HubLink(
            site=site, url=url, user=user, password=nats_auth.folder.password(user), hub_domain=settings.hub_domain
        ).write(nats_auth.folder.path / f"site-{site}.json")
    typer.echo(f"Tệp đăng nhập của từng trạm: {nats_auth.folder.path}/site-<đơn vị>.json (chuyển qua kênh an toàn)")


def _ensure_admin(database_url: str, password: str | None) -> str | None:
    """The national admin `admin` on a system with no account yet (services.plans.identity);
    the password it was given, or the one made up for it (None if accounts existed already)."""
    from services.plans.identity import ensure_first_admin
    from shared.clock import Clock
    from shared.db import make_engine, make_sessions

    async def run() -> str | None:
        engine = make_engine(database_url, pool_size=1)
        try:
            async with make_sessions(engine)() as session, session.begin():
                return await ensure_first_admin(session, username="admin", password=password, now=Clock().now())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _first_admin(database_url: str, data_dir: Path, settings: Settings) -> str | None:
    """On a system with no account yet, the national admin `admin`: with CCHC_ADMIN_PASSWORD, or
    a temporary password written to a file only the operator can read. Says how to log in, once."""
    from cchc.credentials import admin_password_file
    from shared.nats_security import write_secret

    try:
        made_up = _ensure_admin(database_url, settings.secret("admin_password"))
    except Exception as exc:  # noqa: BLE001 - one line for the operator
        raise fail(f"không tạo được tài khoản quản trị đầu tiên: {exc.__class__.__name__}: {exc}") from None
    if made_up is None:
        return None
    where = admin_password_file(data_dir)
    write_secret(where, made_up + "\n")
    return (
        "Tài khoản quản trị đầu tiên: admin (cấp quốc gia). Mật khẩu tạm ở tệp "
        f"{where} (chỉ bạn đọc được); đăng nhập (cchc login --username admin), đổi mật khẩu, rồi xóa tệp đó."
    )


def _provision_nats(operator: Settings, nats_auth: nats_users.EmbeddedAuth | None) -> None:
    """Streams and consumers, made by the operator before any service starts (services with their
    own NATS user may only check them)."""
    readers = nats_auth.folder.readers() if nats_auth else []
    try:
        asyncio.run(nats_users.provision(operator, readers=readers))
    except Exception as exc:  # noqa: BLE001 - one line for the operator
        raise fail(f"không tạo được stream/consumer NATS: {exc.__class__.__name__}: {exc}") from None


async def _serve(
    supervisor: object,
    *,
    host: str,
    port: int,
    settings: Settings,
    servers: list[EmbeddedNats | EmbeddedPostgres] | None = None,
    when_serving: Callable[[str], Coroutine[Any, Any, None]] | None = None,
) -> None:
    from cchc.gateway import create_gateway
    from cchc.supervisor import Supervisor, keep_up

    assert isinstance(supervisor, Supervisor)
    gateway = create_gateway(supervisor.upstreams(), settings)
    server = uvicorn.Server(uvicorn.Config(gateway, host=host, port=port, log_level="warning"))
    watcher = asyncio.create_task(supervisor.watch())
    # the embedded nats-server and PostgreSQL are supervised too: one that dies comes back
    keeper = asyncio.create_task(keep_up(list(servers or []), stopping=lambda: supervisor.stopping))
    try:
        serving = asyncio.create_task(server.serve())  # returns on SIGINT / SIGTERM
        if when_serving is not None:
            await _beside(server, serving, when_serving(settings.public_url))
        await serving
    finally:
        supervisor.stopping = True
        watcher.cancel()
        keeper.cancel()


async def _beside(server: uvicorn.Server, serving: asyncio.Task[None], work: Coroutine[Any, Any, None]) -> None:
    """Run `work` once the gateway listens, for as long as it serves: a stop (Ctrl-C) cancels the
    work; a failure of the work stops the gateway and is raised."""
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has a flag, no event
        await asyncio.sleep(0.05)
    if serving.done():
        work.close()
        return
    task = asyncio.create_task(work)
    await asyncio.wait({serving, task}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    elif task.exception() is not None:
        server.should_exit = True
        await serving
        task.result()


def _postgres_secrets(settings: Settings, data_dir: Path) -> Path:
    """Where the services' database passwords are kept (CCHC_DATABASE_PASSWORDS_DIR)."""
    configured = settings.database_passwords_dir
    return Path(configured) if configured else data_dir / "secrets" / "postgres"


@app.command()
def migrate() -> None:
    """Áp dụng migration của cả 4 dịch vụ vào CCHC_DATABASE_URL."""
    settings = Settings()
    if not settings.database_url:
        raise fail("CCHC_DATABASE_URL chưa được đặt")
    from shared.db_roles import with_password

    admin_url = with_password(settings.database_url, settings.secret("database_password"))
    secrets_dir = _postgres_secrets(settings, Path(platformdirs.user_data_dir("cchc")))
    urls = provision(admin_url, passwords_dir=secrets_dir, prefix=settings.database_role_prefix)
    typer.echo("Đã áp dụng migration cho: " + ", ".join(SERVICES))
    if password := settings.secret("admin_password"):  # compose: the first national admin, from its secret
        _ensure_admin(admin_url, password)
        typer.echo("Tài khoản quản trị đầu tiên: admin (mật khẩu từ CCHC_ADMIN_PASSWORD_FILE), nếu chưa có.")
    typer.echo(f"Mật khẩu vai trò PostgreSQL của từng dịch vụ: {secrets_dir}/postgres-<dịch vụ>.password")
    for name, url in urls.items():  # without the password: each service gets its own file
        typer.echo(f"  {name}: CCHC_DATABASE_URL={redact(url)} (+ CCHC_DATABASE_PASSWORD_FILE)")
    if settings.nats_url:  # as CCHC_NATS_USER: the operator, where NATS has users
        _provision_nats(settings, None)
        typer.echo("Đã tạo/cập nhật stream và consumer NATS.")


@app.command()
def service(name: Annotated[str, typer.Argument(help="plans | tasks | notify | reports")]) -> None:
    """Chạy một dịch vụ (cổng: CCHC_SERVICE_PORT)."""
    if name not in SERVICES:
        raise fail(f"không có dịch vụ {name!r}; chọn một trong: {', '.join(SERVICES)}")
    os.execv(sys.executable, [sys.executable, "-m", f"services.{name}"])


@app.command()
def gateway(
    port: Annotated[int, typer.Option()] = 8000,
    host: Annotated[str, typer.Option()] = "0.0.0.0",  # noqa: S104 - inside a container
) -> None:
    """Chạy cổng chung: /healthz, /docs, /openapi.json, /asyncapi.json và chuyển tiếp /api
    (địa chỉ dịch vụ: CCHC_UPSTREAM_PLANS, _TASKS, _NOTIFY, _REPORTS; nhiều bản sao: cách nhau bởi dấu phẩy)."""
    from cchc.gateway import create_gateway

    upstreams = {}
    for name in SERVICES:
        urls = [u.strip().rstrip("/") for u in os.environ.get(f"CCHC_UPSTREAM_{name.upper()}", "").split(",")]
        if not any(urls):
            raise fail(f"CCHC_UPSTREAM_{name.upper()} chưa được đặt")
        upstreams[name] = [u for u in urls if u]  # several replicas: URLs separated by commas
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    uvicorn.run(create_gateway(upstreams), host=host, port=port, log_level="warning")


@app.command("rebuild-reports")
def rebuild_reports(
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Không xóa gì: theo dõi lần dựng lại đang chạy (thanh tiến độ) đến khi xong; "
            "dừng giữa chừng rồi chạy lại vẫn tiếp tục từ chỗ đã đến",
        ),
    ] = False,
) -> None:
    """Dựng lại số liệu tổng hợp từ luồng sự kiện (dừng dịch vụ reports trước; cần CCHC_NATS_URL và
    CCHC_DATABASE_URL). Khi reports chạy lại, mọi sự kiện được áp dụng lại từ đầu; nếu reports
    dừng giữa chừng, lần chạy sau tiếp tục từ sự kiện đã xác nhận cuối cùng."""
    from services.reports.rebuild import ServiceRunning, rebuild

    settings = Settings()
    if not settings.nats_url or not settings.database_url:
        raise fail("cần CCHC_NATS_URL và CCHC_DATABASE_URL (hệ thống nhúng: dừng cchc up, đặt hai biến này)")
    if watch:
        asyncio.run(_watch_rebuild(settings))
        return
    try:
        removed = asyncio.run(rebuild(settings))
    except ServiceRunning as exc:
        raise fail(str(exc)) from None
    typer.echo("Đã xóa số liệu dẫn xuất: " + ", ".join(f"{name} {count}" for name, count in removed.items()))
    typer.echo("Khởi động lại dịch vụ reports để áp dụng lại các sự kiện từ đầu luồng;")
    typer.echo("theo dõi tiến độ: cchc rebuild-reports --watch")


async def _watch_rebuild(settings: Settings) -> None:
    """The replay as a progress bar: events applied of those in the streams, the rate, the time
    left; the rate of the whole replay at the end (from the first event applied to the last)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from services.reports.rebuild import watch

    first: tuple[float, int] | None = None
    last = None
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sự kiện · {task.fields[rate]} sự kiện/giây"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("Chờ dịch vụ reports khởi động lại", total=None, rate="—")
        async with contextlib.aclosing(watch(settings)) as updates:
            async for now in updates:
                last = now
                moment = asyncio.get_running_loop().time()
                if now.started and first is None:
                    first = (moment, now.applied)
                rate = ""
                if first is not None and moment > first[0]:
                    rate = grouped((now.applied - first[1]) / (moment - first[0]))
                bar.update(
                    task,
                    description="Dựng lại số liệu" if now.started else "Chờ dịch vụ reports khởi động lại",
                    total=now.total if now.started else None,
                    completed=now.applied,
                    rate=rate or "—",
                )
    if last is not None and first is not None:
        seconds = asyncio.get_running_loop().time() - first[0]
        applied = last.applied - first[1]
        rate = grouped(applied / seconds) if seconds > 0 else "—"
        typer.echo(
            f"Xong: {grouped(last.applied)} sự kiện đã áp dụng; lần theo dõi này {grouped(applied)} sự kiện"
            f" trong {grouped(seconds, 1)} giây ({rate} sự kiện/giây)"
        )


accounts_cli.install(app)

deliveries = typer.Typer(help="Thông báo gửi ra ngoài (email, webhook): danh sách gửi hỏng và gửi lại.")
app.add_typer(deliveries, name="deliveries")
app.add_typer(nats_users.commands, name="nats")
app.add_typer(dead_letters_cli.commands, name="dead-letters")
UrlOption = Annotated[str | None, typer.Option("--url", help="Địa chỉ chung của hệ thống (mặc định CCHC_PUBLIC_URL)")]


@deliveries.command("failed")
def deliveries_failed(
    url: UrlOption = None,
    unit: Annotated[str | None, typer.Option(help="Chỉ của một đơn vị (mã)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="In JSON")] = False,
) -> None:
    """Danh sách gửi hỏng (dead-letter): đã thử hết số lần mà vẫn không gửi được."""
    params = {"status": "failed", **({"unit": unit} if unit else {})}
    items = every(url, "/api/notifications/deliveries", params=params)
    if as_json:
        typer.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    if not items:
        typer.echo("Không có lần gửi nào bị hỏng.")
        return
    for item in items:
        typer.echo(
            f"{item['id']}  {item['unit']:<8} {item['kind']:<16} {item['channel']:<8} "
            f"{item['attempts']} lần  {item['last_error'][:80]}"
        )
    typer.echo(f"Tổng: {len(items)} lần gửi hỏng. Gửi lại: cchc deliveries redrive ID … hoặc --all")


@deliveries.command("redrive")
def deliveries_redrive(
    ids: Annotated[list[str] | None, typer.Argument(help="Mã các lần gửi hỏng")] = None,
    every: Annotated[bool, typer.Option("--all", help="Gửi lại mọi lần gửi hỏng")] = False,
    url: UrlOption = None,
) -> None:
    """Gửi lại các lần gửi hỏng; người đã nhận thì không nhận lần hai (cùng khóa chống trùng)."""
    import uuid

    if not ids and not every:
        raise fail("nêu mã lần gửi (ID …) hoặc --all")
    if ids and every:
        raise fail("nêu mã lần gửi hoặc --all, không cả hai")
    for value in ids or []:
        try:
            uuid.UUID(value)
        except ValueError:
            raise fail(f"mã lần gửi không hợp lệ: {value!r}") from None
    result = api(url, "POST", "/api/notifications/deliveries/redrive", json={"ids": ids or [], "all": every})
    typer.echo(f"Đã đưa {result['count']} lần gửi vào hàng đợi gửi lại.")


plans = typer.Typer(
    help="Kế hoạch: đọc kế hoạch sẵn có (tệp Word .docx, văn bản .txt, PDF, ảnh quét) thành bản nháp có cấu trúc."
)
app.add_typer(plans, name="plans")


class Format(StrEnum):
    json = "json"
    text = "text"


@plans.command("parse")
def plans_parse(
    file: Annotated[
        Path, typer.Argument(help="Tệp kế hoạch: .docx, .txt (UTF-8), .pdf, hoặc ảnh quét .png, .jpg, .tif")
    ],
    output: Annotated[Format, typer.Option("--format", help="json: bản nháp đầy đủ; text: tóm tắt")] = Format.json,
) -> None:
    """Đọc kế hoạch thành bản nháp (số, ký hiệu, cơ quan ban hành, nhiệm vụ, phân công, cảnh báo);
    không cần máy chủ. Trang quét (PDF không có lớp chữ, ảnh) được nhận dạng chữ bằng Tesseract,
    tiến độ từng trang in ra stderr."""
    from rich.console import Console

    from services.plans.directory import official_code
    from services.plans.importer import UnreadableDocument, parse_plan
    from services.plans.importer.scan import OcrUnavailable, ReadingTooLong, ReadLimits

    if not file.is_file():
        raise fail(f"không có tệp {file}")
    errors = Console(stderr=True, highlight=False)

    def progress(page: int, pages: int) -> None:
        errors.print(f"Đang nhận dạng chữ trang {page}/{pages}…")

    try:
        draft = parse_plan(file.read_bytes(), file.name, limits=ReadLimits.from_settings(Settings()), progress=progress)
    except (UnreadableDocument, ReadingTooLong, OcrUnavailable) as exc:
        raise fail(f"{file}: {exc}") from None
    draft.issuer_code = draft.issuer_code or official_code(draft.issuer)
    data = draft.as_json()
    if output is Format.json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    parent = data["parent"]
    typer.echo(f"Số: {data['number'] or '(để trống)'} — {data['issuer']['name'] or '(không rõ cơ quan)'}")
    typer.echo(f"{data['place']}, {_dmy(data['date'])} — kỳ {data['period'] or '(không rõ)'}")
    typer.echo(f"Tiêu đề: {data['title']}")
    if parent:
        typer.echo(f"Thực hiện Kế hoạch số {parent['number']} ngày {_dmy(parent['date'])} của {parent['issuer']}")
    for task in data["tasks"]:
        timeline = (task["timeline"] or {}).get("text", "")
        who = "; ".join(task["lead"])
        typer.echo(f"  {task['ref']:>5}  {task['title'][:70]}" + ("" if task["group"] else f" — {who} — {timeline}"))
    typer.echo(f"Nhiệm vụ: {sum(not t['group'] for t in data['tasks'])}; phân công: {len(data['duties'])} cơ quan")
    for warning in data["warnings"]:
        where = f"dòng {warning['line']}: " if warning["line"] else ""
        typer.echo(f"Cảnh báo: {where}{warning['message']}")


def _dmy(iso: str | None) -> str:
    return "__/__/____" if not iso else f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}"


if __name__ == "__main__":
    app()
