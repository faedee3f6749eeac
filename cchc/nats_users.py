"""NATS users of a deployment, from the operator's side: the services' rights read from the
services themselves (what each publishes and consumes), the server's authorization file written
into the data folder, streams and consumers made as the operator user, and `cchc nats …`:
read-only credentials for other systems and the authorization file for compose."""

from __future__ import annotations

import asyncio
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import platformdirs
import typer

from cchc.client import fail
from shared import nats_security
from shared.migrations import SERVICES
from shared.nats_security import OPERATOR, AuthDir, Reader, ServiceAccess
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.runtime import Service


def auth_dir(data_dir: Path) -> AuthDir:
    """Beside the other secrets `cchc up` keeps (cchc/credentials.py): `<data>/secrets/nats`."""
    return AuthDir(data_dir / "secrets" / "nats")


def catalogue(settings: Settings) -> list[Service]:
    """The four services as they would run with these settings (built, not started)."""
    return [importlib.import_module(f"services.{name}.app").create_service(settings) for name in SERVICES]


def accesses(settings: Settings) -> list[ServiceAccess]:
    return [
        ServiceAccess.of(s.name, s.publishes, s.subscriptions, prefix=settings.nats_prefix) for s in catalogue(settings)
    ]


@dataclass
class EmbeddedAuth:
    """What `cchc up` made for its embedded nats-server."""

    folder: AuthDir
    config: Path

    def service_env(self, name: str) -> dict[str, str]:
        return self.folder.env_for(name)

    def operator(self, settings: Settings, nats_url: str) -> Settings:
        return settings.model_copy(
            update={
                "nats_url": nats_url,
                "nats_user": OPERATOR,
                "nats_password": None,
                "nats_password_file": str(self.folder.password_file(OPERATOR)),
            }
        )


def prepare_embedded(data_dir: Path, settings: Settings) -> EmbeddedAuth:
    """Passwords (made once, kept) and a fresh authorization file for the embedded server."""
    folder = auth_dir(data_dir)
    folder.ensure()
    return EmbeddedAuth(
        folder, folder.write_config(accesses(settings), prefix=settings.nats_prefix, sites=settings.sites)
    )


async def provision(settings: Settings, *, readers: list[Reader] | None = None) -> None:
    """Create or update every stream and consumer, connected as `settings`' user (the operator)."""
    client = await nats_security.connect(settings)
    try:
        services = [(s.name, s.subscriptions) for s in catalogue(settings)]
        await nats_security.provision(client.jetstream(), services, settings=settings, readers=readers or [])
    finally:
        await client.drain()


# --- `cchc nats …` ------------------------------------------------------------------------------

commands = typer.Typer(help="NATS: người dùng, quyền và thông tin đăng nhập cho hệ thống khác.")
DataDir = Annotated[Path, typer.Option(help="Thư mục dữ liệu của cchc up (hoặc thư mục bí mật của compose)")]
DEFAULT_DATA = Path(platformdirs.user_data_dir("cchc"))


@commands.command("config")
def config(
    data_dir: DataDir = DEFAULT_DATA,
    for_containers: Annotated[
        bool,
        typer.Option(
            "--for-containers",
            help="Tệp đọc được bởi người dùng trong container (0644) trong thư mục 0700 (compose secrets)",
        ),
    ] = False,
) -> None:
    """Viết tệp phân quyền của nats-server (auth.conf) và mật khẩu từng người dùng (compose)."""
    settings = Settings()
    folder = auth_dir(data_dir.expanduser().resolve())
    folder.ensure()
    path = folder.write_config(accesses(settings), prefix=settings.nats_prefix)
    if for_containers:
        # compose bind-mounts each file as it is: the image's own user must read it, while the
        # folder (0700) still keeps other users of the host out
        for file in [path, *(folder.password_file(user) for user in (OPERATOR, *SERVICES))]:
            file.chmod(0o644)
    typer.echo(f"Đã viết {path} và mật khẩu ở {folder.path}/<người dùng>.password (thư mục chỉ chủ sở hữu vào được).")


@commands.command("credentials")
def credentials(
    unit: Annotated[str, typer.Option(help="Mã đường dẫn đơn vị, ví dụ 52 hoặc 52.21787")],
    read_only: Annotated[bool, typer.Option("--read-only", help="Chỉ đọc sự kiện của cây đơn vị")] = False,
    name: Annotated[str | None, typer.Option(help="Tên người dùng NATS (mặc định readonly-<đơn vị>)")] = None,
    url: Annotated[str | None, typer.Option(help="Địa chỉ NATS ghi vào tệp (mặc định: của hệ thống)")] = None,
    data_dir: DataDir = DEFAULT_DATA,
) -> None:
    """Tạo người dùng NATS chỉ đọc cho một hệ thống khác, giới hạn trong cây đơn vị `unit`."""
    if not read_only:
        raise fail("hiện chỉ cấp quyền chỉ đọc: thêm --read-only")
    settings = Settings()
    data_dir = data_dir.expanduser().resolve()
    try:
        reader = Reader(name or f"readonly-{unit.replace('.', '-')}", unit, settings.nats_prefix)
    except ValueError as exc:
        raise fail(str(exc)) from None
    folder = auth_dir(data_dir)
    folder.ensure()
    folder.add_reader(reader)
    password = folder.password(reader.name)
    folder.write_config(accesses(settings), prefix=settings.nats_prefix)

    running = _running_server(data_dir, settings)
    if running:
        # the embedded server: as its operator; an external one: as CCHC_NATS_USER (the operator)
        operator = settings if settings.nats_url else EmbeddedAuth(folder, folder.config).operator(settings, running)
        try:
            asyncio.run(provision(operator, readers=[reader]))
        except Exception as exc:  # noqa: BLE001 - one line for the operator
            raise fail(f"không tạo được consumer trên {nats_security.redact(running)}: {exc!r}") from None
    # the embedded server, or every node of an embedded cluster (nats-1.pid …)
    reloaded = any([nats_security.reload_server(pid) for pid in sorted(data_dir.glob("nats*.pid"))])

    creds = folder.path / f"{reader.name}.creds.json"
    consumers = [
        {"stream": c.stream, "durable": c.durable, "filter_subjects": k.filter_subjects} for c, k in reader.consumers()
    ]
    nats_security.write_secret(
        creds,
        json.dumps(
            {
                "url": url or (nats_security.redact(running) if running else None),
                "user": reader.name,
                "password": password,
                "inbox_prefix": nats_security.inbox_prefix(reader.name),
                "unit": reader.unit,
                "consumers": consumers,
            },
            indent=2,
        ),
    )
    typer.echo(f"Người dùng NATS {reader.name}: chỉ đọc sự kiện của đơn vị {unit} và các đơn vị trực thuộc.")
    typer.echo(f"Thông tin đăng nhập (có mật khẩu, chuyển cho hệ thống kia qua kênh an toàn): {creds}")
    typer.echo(
        "Kết nối với user/password và inbox_prefix trong tệp; lấy sự kiện bằng pull_subscribe_bind(durable, stream) "
        "trên từng consumer, ack sau khi xử lý (xem README, mục NATS credentials)."
    )
    if reloaded:
        typer.echo("nats-server đã nạp lại cấu hình: người dùng dùng được ngay.")
    elif not running:
        typer.echo("Máy chủ NATS chưa chạy: consumer được tạo và quyền có hiệu lực ở lần cchc up tới.")
    else:
        typer.echo(
            "Nạp lại cấu hình nats-server (SIGHUP, ví dụ: docker compose kill -s HUP nats) để quyền có hiệu lực."
        )


def _running_server(data_dir: Path, settings: Settings) -> str | None:
    """The NATS the system uses: CCHC_NATS_URL, else the embedded server of a running `cchc up`."""
    if settings.nats_url:
        return settings.nats_url
    url_file = data_dir / "nats.url"
    if any(data_dir.glob("nats*.pid")) and url_file.exists():
        return url_file.read_text().strip()
    return None


def operator_settings(data_dir: Path, settings: Settings) -> Settings | None:
    """How a command reaches the system's NATS as its operator: CCHC_NATS_URL as CCHC_NATS_USER
    (`cchc migrate`'s way), else the embedded server of a `cchc up` running on `data_dir` with the
    operator's password file; None when neither is there."""
    if settings.nats_url:
        return settings
    running = _running_server(data_dir, settings)
    if running is None:
        return None
    folder = auth_dir(data_dir)
    return EmbeddedAuth(folder, folder.config).operator(settings, running)
