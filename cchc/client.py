"""The command line's HTTP client of a running system: the base URL, and the credential it
sends — `--token` / `CCHC_TOKEN` (an API token or a session token), else the session saved by
`cchc login` (a file only its owner can read)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import platformdirs
import typer

from shared.settings import Settings


def fail(message: str) -> typer.Exit:
    typer.echo(f"Lỗi: {message}", err=True)
    return typer.Exit(1)


def session_file() -> Path:
    return Path(os.environ.get("CCHC_CONFIG_DIR") or platformdirs.user_config_dir("cchc")) / "session.json"


def saved(base: str) -> str | None:
    try:
        data = json.loads(session_file().read_text())
    except (OSError, ValueError):
        return None
    token = data.get(base)
    return token if isinstance(token, str) else None


def save(base: str, token: str | None) -> None:
    from shared.nats_security import write_secret

    path = session_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    if token is None:
        data.pop(base, None)
    else:
        data[base] = token
    write_secret(path, json.dumps(data))


def base_url(url: str | None) -> str:
    return (url or Settings().public_url).rstrip("/")


def api(url: str | None, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
    """One call; a 4xx/5xx becomes the system's own message and exit code 1."""
    import httpx

    base = base_url(url)
    credential = token or os.environ.get("CCHC_TOKEN") or saved(base)
    headers = dict(kwargs.pop("headers", None) or {})
    if credential:
        headers["Authorization"] = f"Bearer {credential}"
    try:
        response = httpx.request(method, base + path, timeout=30, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise fail(f"không kết nối được {base} ({exc.__class__.__name__}); hệ thống đang chạy chưa?") from None
    if response.status_code == 401 and not credential:
        raise fail("cần đăng nhập: cchc login --username … (hoặc đặt CCHC_TOKEN)")
    if response.status_code >= 400:
        try:
            message = response.json().get("message") or response.text
        except ValueError:
            message = response.text
        raise fail(f"{response.status_code}: {message}")
    if response.status_code == 204 or not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise fail(f"{base} không trả lời như hệ thống CCHC (không phải JSON); kiểm tra --url") from None


def every(url: str | None, path: str, *, token: str | None = None, params: dict[str, str] | None = None) -> list[Any]:
    """Every item of a list the API gives page by page: pages of 500 (the most it gives), one
    after the other, following `next_cursor` until the last."""
    items: list[Any] = []
    wanted = {**(params or {}), "limit": "500"}
    while True:
        found = api(url, "GET", path, token=token, params=wanted)
        items += found["items"]
        if not found.get("next_cursor"):
            return items
        wanted["cursor"] = found["next_cursor"]
