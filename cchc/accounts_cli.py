"""`cchc login|logout`, `cchc users …` and `cchc tokens …`: accounts and API tokens of a running
system, through its HTTP API, as the logged-in admin (or `--token` / `CCHC_TOKEN`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cchc.client import api, base_url, every, fail, save
from shared.migrations import SERVICES

UrlOption = Annotated[str | None, typer.Option("--url", help="Địa chỉ chung của hệ thống (mặc định CCHC_PUBLIC_URL)")]
TokenOption = Annotated[str | None, typer.Option("--token", help="Mã truy cập (mặc định CCHC_TOKEN hoặc phiên đã lưu)")]
ROLES = "officer (cán bộ), head (lãnh đạo), auditor (thanh tra), admin (quản trị)"


def login(
    username: Annotated[str, typer.Option(help="Tên đăng nhập")],
    url: UrlOption = None,
    password: Annotated[str | None, typer.Option(help="Mật khẩu (bỏ trống: hỏi, không hiện)")] = None,
) -> None:
    """Đăng nhập và lưu phiên (tệp chỉ bạn đọc được) cho các lệnh sau."""
    secret = password or typer.prompt("Mật khẩu", hide_input=True)
    answer = api(url, "POST", "/api/auth/login", json={"username": username, "password": secret})
    save(base_url(url), answer["token"])
    user = answer["user"]
    typer.echo(f"Đã đăng nhập: {user['username']} — đơn vị {user['unit_path']} — vai trò {', '.join(user['roles'])}")
    if user.get("must_change_password"):
        typer.echo("Mật khẩu này là mật khẩu tạm: đổi ngay bằng `cchc password`.")


def logout(url: UrlOption = None) -> None:
    """Đăng xuất: phiên đã lưu kết thúc."""
    api(url, "POST", "/api/auth/logout")
    save(base_url(url), None)
    typer.echo("Đã đăng xuất.")


def password(url: UrlOption = None) -> None:
    """Đổi mật khẩu của chính mình."""
    old = typer.prompt("Mật khẩu hiện tại", hide_input=True)
    new = typer.prompt("Mật khẩu mới (ít nhất 10 ký tự)", hide_input=True, confirmation_prompt=True)
    api(url, "POST", "/api/auth/password", json={"old_password": old, "new_password": new})
    typer.echo("Đã đổi mật khẩu; các phiên khác của tài khoản đã kết thúc.")


users = typer.Typer(help="Tài khoản người dùng (cần quyền quản trị trong cây đơn vị).")


@users.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Tên đăng nhập (chữ thường không dấu)")],
    unit: Annotated[str, typer.Option(help='Mã đơn vị ("*": cấp quốc gia)')],
    role: Annotated[list[str], typer.Option(help=f"Vai trò, có thể nêu nhiều lần: {ROLES}")],
    name: Annotated[str, typer.Option(help="Họ tên")] = "",
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Tạo tài khoản; in mật khẩu tạm một lần (người dùng đổi khi đăng nhập)."""
    body = {"username": username, "unit": unit, "roles": role, "name": name}
    made = api(url, "POST", "/api/users", token=token, json=body)
    typer.echo(f"Đã tạo {made['username']} ({made['id']}) — đơn vị {made['unit_path']} — {', '.join(made['roles'])}")
    typer.echo(f"Mật khẩu tạm (chỉ hiện lần này): {made['temporary_password']}")


@users.command("list")
def users_list(
    within: Annotated[str | None, typer.Option(help="Chỉ cây đơn vị này (mã)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="In JSON")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Danh sách tài khoản trong cây đơn vị của bạn."""
    items = every(url, "/api/users", token=token, params={"within": within} if within else {})
    if as_json:
        typer.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    for u in items:
        state = "đã khóa" if u["disabled"] else "đang dùng"
        typer.echo(f"{u['id']}  {u['username']:<24} {u['unit_path']:<20} {','.join(u['roles']):<16} {state}")
    typer.echo(f"Tổng: {len(items)} tài khoản.")


def _user_id(url: str | None, token: str | None, username: str) -> str:
    for u in every(url, "/api/users", token=token):
        if u["username"] == username.strip().lower() or u["id"] == username:
            return str(u["id"])
    raise fail(f"không có tài khoản {username!r} trong cây đơn vị của bạn")


@users.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="Tên đăng nhập hoặc mã tài khoản")],
    enable: Annotated[bool, typer.Option("--enable", help="Mở khóa thay vì khóa")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Khóa tài khoản (các phiên đăng nhập kết thúc ngay); --enable để mở khóa."""
    user_id = _user_id(url, token, username)
    api(url, "PATCH", f"/api/users/{user_id}", token=token, json={"disabled": not enable})
    typer.echo(f"Đã {'mở khóa' if enable else 'khóa'} tài khoản {username}.")


@users.command("reset-password")
def users_reset_password(
    username: Annotated[str, typer.Argument(help="Tên đăng nhập hoặc mã tài khoản")],
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Đặt lại mật khẩu: in mật khẩu tạm mới một lần; các phiên cũ kết thúc."""
    user_id = _user_id(url, token, username)
    answer = api(url, "POST", f"/api/users/{user_id}/password", token=token)
    typer.echo(f"Mật khẩu tạm mới của {username} (chỉ hiện lần này): {answer['temporary_password']}")


tokens = typer.Typer(help="Mã truy cập cho các hệ thống khác (cần quyền quản trị).")


@tokens.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="Hệ thống nào dùng mã này")],
    unit: Annotated[str, typer.Option(help="Mã đơn vị: phạm vi là cây đơn vị này")],
    right: Annotated[list[str] | None, typer.Option(help="Quyền, có thể nêu nhiều lần (mặc định: read)")] = None,
    days: Annotated[int, typer.Option(help="Hạn dùng, số ngày")] = 365,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Tạo mã truy cập; mã chỉ in một lần."""
    body = {"name": name, "unit": unit, "rights": right or ["read"], "expires_in_days": days}
    made = api(url, "POST", "/api/tokens", token=token, json=body)
    typer.echo(f"Đã tạo mã {made['id']} — {made['unit_path']} — quyền {', '.join(made['rights'])}")
    typer.echo(f"Mã truy cập (chỉ hiện lần này; gửi trong Authorization: Bearer …): {made['token']}")


@tokens.command("list")
def tokens_list(url: UrlOption = None, token: TokenOption = None) -> None:
    """Các mã truy cập trong cây đơn vị của bạn (không hiện lại mã)."""
    items = every(url, "/api/tokens", token=token)
    for t in items:
        state = "đã thu hồi" if t["revoked"] else f"hạn {t['expires_at'] or 'không'}"
        typer.echo(f"{t['id']}  {t['name'][:30]:<30} {t['unit_path']:<16} {','.join(t['rights']):<12} {state}")
    typer.echo(f"Tổng: {len(items)} mã.")


@tokens.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="Mã của mã truy cập (cột đầu của `cchc tokens list`)")],
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Thu hồi mã truy cập: hết hiệu lực ngay."""
    api(url, "DELETE", f"/api/tokens/{token_id}", token=token)
    typer.echo(f"Đã thu hồi mã {token_id}.")


auth_commands = typer.Typer(help="Khóa và mật khẩu của phần xác thực (cho compose).")


@auth_commands.command("config")
def auth_config(
    data_dir: Annotated[Path, typer.Option(help="Thư mục chứa secrets/ (compose: deploy)")] = Path("deploy"),
    for_containers: Annotated[
        bool, typer.Option("--for-containers", help="Tệp 0644 trong thư mục 0700, cho người dùng trong container")
    ] = False,
) -> None:
    """Viết khóa ký mã xác thực, khóa công khai (JWKS), khóa bí mật của cổng chung, khóa mã hóa
    khóa bí mật webhook, mật khẩu quản trị đầu tiên, của PostgreSQL (quản trị và vai trò từng dịch
    vụ) và của Keycloak vào
    <data-dir>/secrets/ (đã có thì giữ nguyên)."""
    from cchc.credentials import admin_password_file, ensure_auth_files, ensure_password

    folder = data_dir.expanduser().resolve()
    files = ensure_auth_files(folder)
    admin = ensure_password(admin_password_file(folder))
    pg_admin = ensure_password(folder / "secrets" / "postgres" / "postgres-admin.password")
    keycloak = ensure_password(folder / "secrets" / "keycloak-admin.password")
    roles = [ensure_password(folder / "secrets" / "postgres" / f"postgres-{name}.password") for name in SERVICES]
    written = [files.signing_key, files.jwks, files.gateway_secret, files.secrets_key, admin, pg_admin, keycloak]
    written += roles
    if for_containers:
        for path in written:
            path.chmod(0o644)
    for path in written:
        typer.echo(f"  {path}")
    typer.echo(f"Mật khẩu tạm của admin (đổi sau khi đăng nhập) ở {admin}.")


def install(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("password")(password)
    app.add_typer(users, name="users")
    app.add_typer(tokens, name="tokens")
    app.add_typer(auth_commands, name="auth")
