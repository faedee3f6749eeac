"""Identity: the accounts of each unit's people and the API tokens of machine clients, logging
in and out, and the exchange the gateway makes of a session or API token for the short-lived
signed token every service checks (shared/auth.py). The plans service owns it because it owns
the unit directory the accounts belong to.

Passwords are hashed with argon2 (pwdlib); session and API tokens are random strings shown
once and kept as SHA-256 hashes. Failed logins are counted per account and per address; past
the limit, logging in is refused (429) for the rest of the window."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pwdlib import PasswordHash
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.plans import models as m
from shared import audit, auth, pages
from shared.access import EVERYWHERE, Caller, Right, Role
from shared.errors import Conflict, FieldProblem, Forbidden, InputError, NotFound, TooManyRequests
from shared.limits import Name, RequiredName
from shared.settings import Settings
from shared.units import within_path

PASSWORDS = PasswordHash.recommended()
_NO_ONE = PASSWORDS.hash("không ai có mật khẩu này")  # verified against when the account is unknown
SESSION_PREFIX = "cchc_s_"
TOKEN_PREFIX = "cchc_t_"
MIN_PASSWORD = 10
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,63}$")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def new_password() -> str:
    """A temporary password an admin hands over (the user changes it at first login)."""
    return secrets.token_urlsafe(12)


def check_password(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError([FieldProblem(field, f"mật khẩu cần ít nhất {MIN_PASSWORD} ký tự")])
    if password.isdigit() or len(set(password)) < 4:
        raise InputError([FieldProblem(field, "mật khẩu quá dễ đoán (chỉ có số hoặc lặp ký tự)")])


class UserIn(BaseModel):
    username: str = Field(max_length=64)
    name: Name = ""
    unit: str = Field(max_length=100, description='mã đơn vị ("*": cấp quốc gia)')
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    password: str | None = Field(None, max_length=200, description="bỏ trống: hệ thống tạo mật khẩu tạm")

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        value = value.strip().lower()
        if not USERNAME.match(value):
            raise ValueError("tên đăng nhập 3–64 ký tự: chữ thường không dấu, số, dấu chấm, gạch, @")
        return value


class UserChange(BaseModel):
    name: Name | None = None
    roles: list[Role] | None = Field(None, min_length=1, max_length=len(Role))
    disabled: bool | None = None


class TokenIn(BaseModel):
    name: RequiredName = Field(description="hệ thống nào dùng mã này")
    unit: str = Field(max_length=100)
    rights: list[Right] = Field([Right.read], min_length=1, max_length=len(Right))
    expires_in_days: int | None = Field(365, ge=1, le=3650)


def user_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "username": row.username,
        "name": row.name,
        "unit": row.unit_path.rpartition(".")[2],
        "unit_path": row.unit_path,
        "roles": list(row.roles),
        "disabled": row.disabled_at is not None,
        "must_change_password": row.must_change_password,
        "created_at": row.created_at.isoformat(),
    }


def token_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "unit_path": row.unit_path,
        "rights": list(row.rights),
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked": row.revoked_at is not None,
    }


async def unit_path(session: AsyncSession, code: str, *, field: str = "unit") -> str:
    """The path of the unit with `code` ("*" stays "*"); 422 naming the field if unknown."""
    if code == EVERYWHERE:
        return EVERYWHERE
    path = (await session.execute(select(m.units.c.path).where(m.units.c.code == code))).scalar()
    if path is None:
        raise InputError([FieldProblem(field, f"không có đơn vị mã {code!r}")])
    return str(path)


def _require_admin_of(caller: Caller, path: str) -> None:
    if path == EVERYWHERE and not caller.national:
        raise Forbidden("Chỉ quản trị cấp quốc gia được tạo tài khoản, mã truy cập cấp quốc gia")
    caller.require(Right.admin, path)


# ---- accounts --------------------------------------------------------------------------------


async def add_user(
    session: AsyncSession, *, caller: Caller | None, body: UserIn, now: datetime
) -> tuple[Any, str | None]:
    """A new account; with no password given, a temporary one (returned once, to be changed at
    first login). `caller` None: the system itself (the first national admin)."""
    path = await unit_path(session, body.unit)
    if caller is not None:
        _require_admin_of(caller, path)
    temporary = body.password is None
    password = body.password or new_password()
    if not temporary:
        check_password(password)
    taken = (await session.execute(select(m.users.c.id).where(m.users.c.username == body.username))).first()
    if taken:
        raise InputError([FieldProblem("username", f"tên đăng nhập {body.username!r} đã có người dùng")], status=409)
    row = (
        await session.execute(
            m.users.insert()
            .values(
                id=uuid.uuid4(),
                username=body.username,
                name=body.name.strip(),
                unit_path=path,
                roles=sorted({r.value for r in body.roles}),
                password_hash=PASSWORDS.hash(password),
                must_change_password=temporary,
                created_by=caller.subject if caller else "system",
                created_at=now,
                password_changed_at=now,
            )
            .returning(*m.users.c)
        )
    ).one()
    return row, password if temporary else None


USERS = pages.Key("users", (str, str))  # by unit path, then user name (unique)
TOKENS = pages.Key("tokens", (datetime, uuid.UUID))  # newest first


async def users(session: AsyncSession, *, caller: Caller, scope: str | None, page: pages.Ask) -> pages.Page:
    """A page of the accounts in the caller's subtree (or the part of it asked for)."""
    root = caller.unit_path if scope is None else await unit_path(session, scope, field="within")
    _require_admin_of(caller, root)
    u = m.users
    query = select(u).order_by(u.c.unit_path, u.c.username).limit(page.limit + 1)
    query = query.where(within_path(u.c.unit_path, root))
    if (after := page.where(u.c.unit_path, u.c.username)) is not None:
        query = query.where(after)
    return page.cut((await session.execute(query)).all(), lambda r: (r.unit_path, r.username))


async def _user_for_admin(session: AsyncSession, caller: Caller, user_id: uuid.UUID, *, lock: bool = True) -> Any:
    query = select(m.users).where(m.users.c.id == user_id)
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None or not caller.covers(row.unit_path):  # another subtree's account: as if absent
        raise NotFound(f"không có tài khoản {user_id}")
    _require_admin_of(caller, row.unit_path)
    return row


async def change_user(
    session: AsyncSession, *, caller: Caller, user_id: uuid.UUID, body: UserChange, now: datetime
) -> Any:
    row = await _user_for_admin(session, caller, user_id)
    audit.note_before(user_json(row))
    values: dict[str, Any] = {}
    if body.name is not None:
        values["name"] = body.name.strip()
    if body.roles is not None:
        values["roles"] = sorted({r.value for r in body.roles})
    if body.disabled is not None:
        if body.disabled and caller.subject == f"user:{row.id}":
            raise InputError([FieldProblem("disabled", "không tự khóa tài khoản của chính mình")])
        values["disabled_at"] = now if body.disabled else None
    if values:
        row = (
            await session.execute(update(m.users).where(m.users.c.id == row.id).values(**values).returning(*m.users.c))
        ).one()
    if body.disabled or body.roles is not None:
        await _end_sessions(session, row.id, now)
    return row


async def reset_password(
    session: AsyncSession, *, caller: Caller, user_id: uuid.UUID, now: datetime
) -> tuple[Any, str]:
    """A new temporary password for the account; its sessions end."""
    row = await _user_for_admin(session, caller, user_id)
    password = new_password()
    await session.execute(
        update(m.users)
        .where(m.users.c.id == row.id)
        .values(password_hash=PASSWORDS.hash(password), must_change_password=True, password_changed_at=now)
    )
    await _end_sessions(session, row.id, now)
    return row, password


async def change_own_password(session: AsyncSession, *, caller: Caller, old: str, new: str, now: datetime) -> None:
    user_id = _user_id(caller)
    row = (await session.execute(select(m.users).where(m.users.c.id == user_id).with_for_update())).first()
    if row is None:
        raise Forbidden("Chỉ tài khoản người dùng của hệ thống mới đổi được mật khẩu ở đây")
    if not PASSWORDS.verify(old, row.password_hash):
        raise InputError([FieldProblem("old_password", "mật khẩu hiện tại không đúng")], status=403)
    check_password(new, "new_password")
    if new == old:
        raise InputError([FieldProblem("new_password", "mật khẩu mới phải khác mật khẩu cũ")])
    await session.execute(
        update(m.users)
        .where(m.users.c.id == user_id)
        .values(password_hash=PASSWORDS.hash(new), must_change_password=False, password_changed_at=now)
    )
    # every other session of the account ends; this one stays
    await _end_sessions(session, user_id, now, keep=caller.extra.get("sid"))


def account_id(caller: Caller) -> uuid.UUID | None:
    """The id of the caller's own account here, if it is one (not a token, an OIDC user…)."""
    kind, _, value = caller.subject.partition(":")
    if kind != "user":
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _user_id(caller: Caller) -> uuid.UUID:
    user_id = account_id(caller)
    if user_id is None:
        raise Forbidden("Chỉ tài khoản người dùng của hệ thống mới đổi được mật khẩu ở đây")
    return user_id


async def _end_sessions(session: AsyncSession, user_id: uuid.UUID, now: datetime, *, keep: str | None = None) -> None:
    s = m.sessions
    query = update(s).where(s.c.user_id == user_id, s.c.revoked_at.is_(None)).values(revoked_at=now)
    if keep:
        query = query.where(s.c.id != uuid.UUID(keep))
    await session.execute(query)


# ---- logging in ------------------------------------------------------------------------------


@dataclass
class LoggedIn:
    user: Any
    token: str
    expires_at: datetime


@dataclass
class Refused:
    """A failed login, recorded: the caller commits it, then answers 401 with `reason`."""

    reason: str


async def login(
    session: AsyncSession, *, username: str, password: str, address: str, client: str, now: datetime, settings: Settings
) -> LoggedIn | Refused:
    """A new session for the account, or the refusal to answer with 401 (the same for an unknown
    account and a wrong password) once it is committed — 429 once the account or the address
    failed too often in the window."""
    username = username.strip().lower()
    window = timedelta(minutes=settings.login_window_minutes)
    f = m.login_failures
    since = now - window
    # one attempt per account at a time: parallel guesses cannot all read a count under the limit
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("login:" + username))))
    by_user = (await session.execute(select(func.count()).where(f.c.username == username, f.c.at > since))).scalar_one()
    by_address = (
        await session.execute(select(func.count()).where(f.c.address == address, f.c.at > since))
    ).scalar_one()
    if by_user >= settings.login_max_failures or by_address >= 4 * settings.login_max_failures:
        minutes = int(settings.login_window_minutes)
        raise TooManyRequests(
            f"Đăng nhập sai quá nhiều lần; hãy thử lại sau {minutes} phút hoặc nhờ quản trị đặt lại mật khẩu",
            retry_after=int(window.total_seconds()),
        )
    row = (await session.execute(select(m.users).where(m.users.c.username == username))).first()
    # argon2 takes a tenth of a second of CPU: off the event loop, so other requests go on
    good = await asyncio.to_thread(PASSWORDS.verify, password, row.password_hash if row else _NO_ONE)
    if row is None or not good or row.disabled_at is not None:
        await session.execute(f.insert().values(username=username, address=address, at=now))
        if row is not None and good:  # right password, disabled account: say so
            return Refused("tài khoản đã bị khóa; liên hệ quản trị của đơn vị")
        return Refused("tên đăng nhập hoặc mật khẩu không đúng")
    token = new_secret(SESSION_PREFIX)
    expires = now + timedelta(hours=settings.session_hours)
    await session.execute(
        m.sessions.insert().values(
            id=uuid.uuid4(),
            token_hash=digest(token),
            user_id=row.id,
            created_at=now,
            expires_at=expires,
            last_used_at=now,
            client=client[:300],
        )
    )
    await session.execute(f.delete().where(f.c.username == username))
    return LoggedIn(row, token, expires)


async def logout(session: AsyncSession, *, caller: Caller, now: datetime) -> bool:
    sid = caller.extra.get("sid")
    if not sid:
        return False
    result = await session.execute(
        update(m.sessions)
        .where(m.sessions.c.id == uuid.UUID(sid), m.sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def me(session: AsyncSession, *, caller: Caller) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": caller.subject,
        "name": caller.name,
        "unit_path": caller.unit_path,
        "unit": caller.unit_code,
        "roles": [r.value for r in caller.roles],
        "rights": sorted(r.value for r in caller.rights),
        "kind": caller.kind,
    }
    if caller.unit_path != EVERYWHERE:
        name = (await session.execute(select(m.units.c.name).where(m.units.c.path == caller.unit_path))).scalar()
        body["unit_name"] = name or ""
    user_id = account_id(caller)
    if user_id is not None:
        row = (await session.execute(select(m.users).where(m.users.c.id == user_id))).first()
        if row is not None:
            body["username"] = row.username
            body["must_change_password"] = row.must_change_password
    return body


# ---- API tokens ------------------------------------------------------------------------------


async def create_token(session: AsyncSession, *, caller: Caller, body: TokenIn, now: datetime) -> tuple[Any, str]:
    path = await unit_path(session, body.unit)
    _require_admin_of(caller, path)
    secret = new_secret(TOKEN_PREFIX)
    row = (
        await session.execute(
            m.api_tokens.insert()
            .values(
                id=uuid.uuid4(),
                token_hash=digest(secret),
                name=body.name.strip(),
                unit_path=path,
                rights=sorted({r.value for r in body.rights}),
                created_by=caller.subject,
                created_at=now,
                expires_at=now + timedelta(days=body.expires_in_days) if body.expires_in_days else None,
            )
            .returning(*m.api_tokens.c)
        )
    ).one()
    return row, secret


async def tokens(session: AsyncSession, *, caller: Caller, page: pages.Ask) -> pages.Page:
    caller.require(Right.admin, caller.unit_path)
    t = m.api_tokens
    query = select(t).order_by(t.c.created_at.desc(), t.c.id.desc()).limit(page.limit + 1)
    query = query.where(within_path(t.c.unit_path, caller.unit_path))
    if (after := page.where(t.c.created_at, t.c.id, descending=True)) is not None:
        query = query.where(after)
    return page.cut((await session.execute(query)).all(), lambda r: (r.created_at, r.id))


async def revoke_token(session: AsyncSession, *, caller: Caller, token_id: uuid.UUID, now: datetime) -> Any:
    t = m.api_tokens
    row = (await session.execute(select(t).where(t.c.id == token_id).with_for_update())).first()
    if row is None or not caller.covers(row.unit_path):
        raise NotFound(f"không có mã truy cập {token_id}")
    _require_admin_of(caller, row.unit_path)
    if row.revoked_at is not None:
        raise Conflict("mã truy cập này đã bị thu hồi")
    return (await session.execute(update(t).where(t.c.id == token_id).values(revoked_at=now).returning(*t.c))).one()


# ---- the gateway's exchange ------------------------------------------------------------------


def gateway_may_exchange(settings: Settings, presented: str | None) -> bool:
    expected = settings.secret("gateway_secret")
    return bool(expected and presented and hmac.compare_digest(expected.encode(), presented.encode()))


async def exchange(session: AsyncSession, *, credential: str, now: datetime, settings: Settings) -> tuple[str, int]:
    """The short-lived signed token for a live session or API token; 401 for anything else. The
    session's and token's own expiry follow the service clock; the signed token's validity is
    wall-clock time, as every service checks it."""
    pem = settings.secret("auth_signing_key")  # read once per process; the key parsed once (cached)
    if pem is None:
        raise RuntimeError("CCHC_AUTH_SIGNING_KEY(_FILE) is not set: the plans service cannot sign tokens")
    key = auth.load_signing_key(pem)
    seconds = auth.ACCESS_SECONDS
    hashed = digest(credential)
    if credential.startswith(SESSION_PREFIX):
        s, u = m.sessions, m.users
        row = (
            await session.execute(
                select(s.c.id, s.c.expires_at, s.c.revoked_at, s.c.last_used_at, u.c.id.label("user_id"))
                .add_columns(u.c.name, u.c.unit_path, u.c.roles, u.c.disabled_at)
                .join(u, u.c.id == s.c.user_id)
                .where(s.c.token_hash == hashed)
            )
        ).first()
        if row is None or row.revoked_at is not None or row.disabled_at is not None:
            raise auth.Unauthorized("phiên đăng nhập đã kết thúc; đăng nhập lại")
        if row.expires_at <= now:
            raise auth.Unauthorized("phiên đăng nhập đã hết hạn; đăng nhập lại")
        await _used(session, s, row, now)
        token = auth.mint(
            key,
            subject=f"user:{row.user_id}",
            unit_path=row.unit_path,
            roles=row.roles,
            name=row.name,
            session_id=str(row.id),
            seconds=seconds,
        )
        return token, seconds
    if credential.startswith(TOKEN_PREFIX):
        t = m.api_tokens
        row = (await session.execute(select(t).where(t.c.token_hash == hashed))).first()
        if row is None or row.revoked_at is not None:
            raise auth.Unauthorized("mã truy cập không hợp lệ hoặc đã bị thu hồi")
        if row.expires_at is not None and row.expires_at <= now:
            raise auth.Unauthorized("mã truy cập đã hết hạn")
        await _used(session, t, row, now)
        token = auth.mint(
            key,
            subject=f"token:{row.id}",
            unit_path=row.unit_path,
            rights=row.rights,
            name=row.name,
            kind="token",
            seconds=seconds,
        )
        return token, seconds
    raise auth.Unauthorized("mã xác thực không đúng dạng (cchc_s_… hoặc cchc_t_…)")


async def _used(session: AsyncSession, table: Any, row: Any, now: datetime) -> None:
    """Note a session's or token's last use (at most once a minute: not a write per request)."""
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        await session.execute(update(table).where(table.c.id == row.id).values(last_used_at=now))


async def ensure_first_admin(
    session: AsyncSession, *, username: str, password: str | None, now: datetime
) -> str | None:
    """On a system with no account yet: a national admin. Returns its password when the system
    made one up (to be shown once), None if accounts existed already or the password was given."""
    if (await session.execute(select(m.users.c.id).limit(1))).first() is not None:
        return None
    body = UserIn(username=username, name="Quản trị hệ thống", unit=EVERYWHERE, roles=[Role.admin], password=password)
    _, made_up = await add_user(session, caller=None, body=body, now=now)
    return made_up
