"""HTTP routes of identity, thin: logging in and out, one's own account, accounts and API tokens
(admins, within their subtree), and the gateway's exchange. The rules are in identity.py."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StringConstraints

from services.plans import identity
from shared import pages
from shared.access import Caller, Right
from shared.auth import Unauthorized, allow, public
from shared.limits import Cleaned
from shared.runtime import Service, service_of

router = APIRouter()
COOKIE = "cchc_session"


class LoginIn(BaseModel):
    # cleaned: a NUL typed into the name reached PostgreSQL (500) where the failed login is counted
    username: Annotated[str, StringConstraints(min_length=1, max_length=64), Cleaned]
    password: str = Field(min_length=1, max_length=200)


class PasswordChange(BaseModel):
    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class ExchangeIn(BaseModel):
    credential: str = Field(min_length=1, max_length=400)


def client_address(request: Request) -> str:
    """The address the gateway saw (the last X-Forwarded-For hop it added), else the peer's."""
    forwarded = request.headers.get("x-forwarded-for", "")
    if forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()[:100]
    return request.client.host if request.client else ""


@router.post("/api/auth/login")
async def login(
    body: LoginIn,
    request: Request,
    service: Service = Depends(service_of),
    _: None = Depends(public("đăng nhập bằng tên và mật khẩu")),
) -> JSONResponse:
    """Đăng nhập: trả về phiên (cookie HttpOnly cho trình duyệt, `token` cho tập lệnh — gửi
    `Authorization: Bearer <token>` qua địa chỉ chung)."""
    now = service.clock.now()
    async with service.transaction() as session:
        done = await identity.login(
            session,
            username=body.username,
            password=body.password,
            address=client_address(request),
            client=request.headers.get("user-agent", ""),
            now=now,
            settings=service.settings,
        )
    if isinstance(done, identity.Refused):
        raise Unauthorized(done.reason)
    response = JSONResponse(
        {"user": identity.user_json(done.user), "token": done.token, "expires_at": done.expires_at.isoformat()}
    )
    response.set_cookie(
        COOKIE,
        done.token,
        max_age=int((done.expires_at - now).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=service.settings.public_url.startswith("https://")
        or request.headers.get("x-forwarded-proto", "").lower() == "https",
        path="/",
    )
    return response


@router.post("/api/auth/logout", status_code=204)
async def logout(
    service: Service = Depends(service_of), caller: Caller = Depends(allow(None, scope="phiên của chính mình"))
) -> Response:
    """Đăng xuất: phiên đăng nhập này kết thúc ngay."""
    async with service.transaction() as session:
        await identity.logout(session, caller=caller, now=service.clock.now())
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/api/auth/me")
async def me(
    service: Service = Depends(service_of), caller: Caller = Depends(allow(None, scope="tài khoản của chính mình"))
) -> dict[str, Any]:
    """Tài khoản đang đăng nhập: đơn vị, vai trò, quyền."""
    async with service.sessions() as session:
        return await identity.me(session, caller=caller)


@router.post("/api/auth/password", status_code=204)
async def change_password(
    body: PasswordChange,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(None, scope="tài khoản của chính mình")),
) -> Response:
    """Đổi mật khẩu của chính mình; các phiên khác của tài khoản kết thúc."""
    async with service.transaction() as session:
        await identity.change_own_password(
            session, caller=caller, old=body.old_password, new=body.new_password, now=service.clock.now()
        )
    return Response(status_code=204)


@router.get("/api/users")
async def list_users(
    within: str | None = None,
    page: pages.Ask = Depends(pages.asking(identity.USERS)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.admin, scope="tài khoản trong cây đơn vị của người quản trị")),
) -> dict[str, Any]:
    """Tài khoản trong cây đơn vị của người quản trị (hoặc của đơn vị `within` trong đó), theo
    đơn vị rồi tên đăng nhập, từng trang."""
    async with service.sessions() as session:
        found = await identity.users(session, caller=caller, scope=within, page=page)
    return found.json(identity.user_json)


@router.post("/api/users", status_code=201)
async def add_user(
    body: identity.UserIn,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.admin, scope="đơn vị của tài khoản mới nằm trong cây của người quản trị")),
) -> dict[str, Any]:
    """Tạo tài khoản; không nêu mật khẩu thì hệ thống tạo mật khẩu tạm (chỉ hiện một lần)."""
    async with service.transaction() as session:
        row, password = await identity.add_user(session, caller=caller, body=body, now=service.clock.now())
    return {**identity.user_json(row), **({"temporary_password": password} if password else {})}


@router.patch("/api/users/{user_id}")
async def change_user(
    user_id: uuid.UUID,
    body: identity.UserChange,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.admin, scope="tài khoản trong cây đơn vị của người quản trị")),
) -> dict[str, Any]:
    """Đổi tên, vai trò; khóa (`disabled: true`) hoặc mở khóa tài khoản. Khóa hay đổi vai trò
    thì các phiên đăng nhập của tài khoản kết thúc."""
    async with service.transaction() as session:
        row = await identity.change_user(session, caller=caller, user_id=user_id, body=body, now=service.clock.now())
    return identity.user_json(row)


@router.post("/api/users/{user_id}/password")
async def reset_password(
    user_id: uuid.UUID,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.admin, scope="tài khoản trong cây đơn vị của người quản trị")),
) -> dict[str, Any]:
    """Đặt lại mật khẩu: mật khẩu tạm mới (chỉ hiện một lần), các phiên cũ kết thúc."""
    async with service.transaction() as session:
        row, password = await identity.reset_password(session, caller=caller, user_id=user_id, now=service.clock.now())
    return {**identity.user_json(row), "temporary_password": password}


@router.get("/api/tokens")
async def list_tokens(
    page: pages.Ask = Depends(pages.asking(identity.TOKENS)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.admin, scope="mã truy cập trong cây đơn vị của người quản trị")),
) -> dict[str, Any]:
    """Mã truy cập của các hệ thống khác (không hiện lại mã), mới nhất trước, từng trang."""
    async with service.sessions() as session:
        found = await identity.tokens(session, caller=caller, page=page)
    return found.json(identity.token_json)


@router.post("/api/tokens", status_code=201)
async def create_token(
    body: identity.TokenIn,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.admin, scope="đơn vị của mã nằm trong cây của người quản trị")),
) -> dict[str, Any]:
    """Tạo mã truy cập cho một hệ thống khác: phạm vi một cây đơn vị, chỉ đọc hoặc các quyền nêu
    tên, có hạn dùng. Mã chỉ hiện một lần."""
    async with service.transaction() as session:
        row, secret = await identity.create_token(session, caller=caller, body=body, now=service.clock.now())
    return {**identity.token_json(row), "token": secret}


@router.delete("/api/tokens/{token_id}")
async def revoke_token(
    token_id: uuid.UUID,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.admin, scope="mã truy cập trong cây đơn vị của người quản trị")),
) -> dict[str, Any]:
    """Thu hồi mã truy cập: hết hiệu lực ngay."""
    async with service.transaction() as session:
        row = await identity.revoke_token(session, caller=caller, token_id=token_id, now=service.clock.now())
    return identity.token_json(row)


@router.post("/internal/auth/exchange", include_in_schema=False)
async def exchange(
    body: ExchangeIn,
    service: Service = Depends(service_of),
    gateway_key: str | None = Header(None, alias="x-cchc-gateway"),
    _: None = Depends(public("chỉ cổng chung, với khóa bí mật của cổng (CCHC_GATEWAY_SECRET)")),
) -> dict[str, Any]:
    """The gateway trades a session or API token for a short-lived signed token."""
    if not identity.gateway_may_exchange(service.settings, gateway_key):
        raise Unauthorized("chỉ cổng chung được đổi mã xác thực")
    async with service.transaction() as session:
        token, seconds = await identity.exchange(
            session, credential=body.credential, now=service.clock.now(), settings=service.settings
        )
    return {"token": token, "expires_in": seconds}
