"""Home, by role: a commune officer's "việc của tôi"; a head's dashboard of its subtree."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from web.kit import Page, signed_in

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(page: Page = Depends(signed_in("mọi người đã đăng nhập: trang chủ theo vai trò"))) -> HTMLResponse:
    return page.render("dashboard/home.html", {"active": "home"})
