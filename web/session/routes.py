"""Log in, log out, change one's own password (POST /api/auth/login, /logout, /password)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from web.kit import Api, Page, Refusal, public, redirect, render, safe_next, signed_in

router = APIRouter(include_in_schema=False)


@router.get("/login")
async def login_form(request: Request, next: str = "/", _: Api = Depends(public("trang đăng nhập"))) -> HTMLResponse:
    return render(request, "session/login.html", {"next": safe_next(next), "values": {}, "errors": None})


@router.post("/login")
async def login(request: Request, api: Api = Depends(public("đăng nhập bằng tên và mật khẩu"))) -> Response:
    form = await request.form()
    values = {"username": str(form.get("username", "")).strip(), "next": safe_next(str(form.get("next", "/")))}
    answer = await api.send(
        "POST", "/api/auth/login", json={"username": values["username"], "password": str(form.get("password", ""))}
    )
    if answer.status_code != 200:
        errors = Refusal.of(answer)
        return render(
            request,
            "session/login.html",
            {"next": values["next"], "values": values, "errors": errors},
            status=answer.status_code if answer.status_code in (401, 422, 429) else 400,
        )
    response = redirect("/password" if answer.json()["user"].get("must_change_password") else values["next"])
    for value in answer.headers.get_list("set-cookie"):
        response.headers.append("set-cookie", value)
    return response


@router.post("/logout")
async def logout(page: Page = Depends(signed_in("phiên của chính mình"))) -> Response:
    answer = await page.api.send("POST", "/api/auth/logout")
    response = redirect("/login")
    for value in answer.headers.get_list("set-cookie"):
        response.headers.append("set-cookie", value)
    return response


@router.get("/password")
async def password_form(page: Page = Depends(signed_in("tài khoản của chính mình"))) -> HTMLResponse:
    return page.render("session/password.html", {"errors": None, "done": False, "active": "password"})


@router.post("/password")
async def change_password(page: Page = Depends(signed_in("tài khoản của chính mình"))) -> HTMLResponse:
    form = await page.request.form()
    new, again = str(form.get("new_password", "")), str(form.get("confirm", ""))
    if new != again:
        errors = Refusal(422, "Mật khẩu nhập lại không khớp", {"confirm": "không khớp với mật khẩu mới"})
        return page.render("session/password.html", {"errors": errors, "done": False, "active": "password"}, status=422)
    answer = await page.api.send(
        "POST", "/api/auth/password", json={"old_password": str(form.get("old_password", "")), "new_password": new}
    )
    if answer.status_code >= 400:
        errors = Refusal.of(answer)
        return page.render(
            "session/password.html", {"errors": errors, "done": False, "active": "password"}, status=answer.status_code
        )
    return page.render("session/password.html", {"errors": None, "done": True, "active": "password"})
