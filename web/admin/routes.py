"""Pages of the admin room: the accounts of the admin's subtree (/api/users), API tokens of other
systems (/api/tokens), and the units (/api/units: load a province, rename, merges, the standard
bodies of a unit). A temporary password or a token's secret is shown once, on the page that
answers the form that made it, and never again."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from shared.access import Right, Role
from web.admin.forms import codes
from web.kit import AFTER, Page, PageError, Refusal, optional, redirect, refused_status, signed_in, text, ticked

router = APIRouter(include_in_schema=False)

ADMINS = "người quản trị, trong cây đơn vị của mình (dịch vụ từ chối người khác)"
LEVEL_LABELS = {
    "province": "Cấp tỉnh",
    "district": "Cấp huyện (cũ)",
    "commune": "Cấp xã",
    "body": "Cơ quan",
    "village": "Thôn, tổ dân phố",
}
SOURCES = {
    "vietnam-provinces": "Cơ cấu hiện hành (sau 01/7/2025)",
    "vietnamadminunits": "Cơ cấu trước 01/7/2025, kèm đơn vị kế thừa",
}
ROLES = [r.value for r in Role]
RIGHTS = [r.value for r in Right]


def may_see_admin(page: Page) -> None:
    """The admin room is for admins and for heads who manage their unit's bodies (403 otherwise)."""
    if not (page.viewer.is_admin or page.viewer.may(Right.manage)):
        raise PageError(403, "Trang quản trị dành cho người có quyền quản trị hoặc quản lý đơn vị.")


async def subtree_units(page: Page) -> list[dict[str, Any]]:
    """The viewer's unit and its current child units (to choose a user's or a token's unit)."""
    unit = page.viewer.unit
    if unit in ("", "*"):
        return await page.api.every("/api/units")
    own = await page.api.json_or_none(f"/api/units/{unit}")
    children = await page.api.every("/api/units", parent=unit, current="true")
    return ([own] if own else []) + [u for u in children if u["level"] not in ("body", "village")]


@router.get("/admin")
async def index(page: Page = Depends(signed_in("người quản trị hoặc lãnh đạo quản lý đơn vị"))) -> HTMLResponse:
    may_see_admin(page)
    return page.render("admin/index.html", {"active": "admin"})


# ---- users --------------------------------------------------------------------------------------


async def users_page(
    page: Page,
    *,
    values: dict[str, Any] | None = None,
    errors: Refusal | None = None,
    shown: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The accounts of the subtree, the form of a new one, and a temporary password just made."""
    within = page.request.query_params.get("within") or None
    users = await page.api.json("/api/users", within=within, cursor=page.request.query_params.get(AFTER) or None)
    units = await subtree_units(page)
    return page.render(
        "admin/users.html",
        {
            "active": "admin",
            "users": users["items"],
            "more": page.next_page(users["next_cursor"]),
            "units": units,
            "unit_names": {u["code"]: u["name"] for u in units},
            "roles": ROLES,
            "within": within or "",
            "values": values or {"roles": [Role.officer.value]},
            "errors": errors,
            "shown": shown,
        },
        status=status,
    )


@router.get("/admin/users")
async def users(page: Page = Depends(signed_in(ADMINS))) -> HTMLResponse:
    return await users_page(page)


@router.post("/admin/users")
async def add_user(page: Page = Depends(signed_in(ADMINS))) -> Response:
    """A new account with a temporary password made by identity, shown once on the answer."""
    form = await page.request.form()
    values: dict[str, Any] = {name: text(form, name) for name in ("username", "name", "unit")}
    values["roles"] = ticked(form, "roles")
    answer = await page.api.send("POST", "/api/users", json=values)
    if answer.status_code >= 400:
        errors = Refusal.of(answer).folded()
        return await users_page(page, values=values, errors=errors, status=refused_status(errors))
    made = answer.json()
    return await users_page(
        page, shown={"user": made, "password": made.get("temporary_password"), "new": True}, status=201
    )


@router.post("/admin/users/{user_id}")
async def change_user(user_id: str, page: Page = Depends(signed_in(ADMINS))) -> Response:
    """New roles, and locked or unlocked (the account's sessions end)."""
    form = await page.request.form()
    body = {"roles": ticked(form, "roles"), "disabled": "disabled" in form}
    answer = await page.api.send("PATCH", f"/api/users/{user_id}", json=body)
    if answer.status_code >= 400:
        errors = Refusal.of(answer).folded()
        return await users_page(page, errors=errors, status=refused_status(errors))
    return redirect("/admin/users?" + urlencode({"changed": answer.json()["username"]}))


@router.post("/admin/users/{user_id}/password")
async def reset_password(user_id: str, page: Page = Depends(signed_in(ADMINS))) -> Response:
    """A new temporary password, shown once; the account's sessions end."""
    answer = await page.api.send("POST", f"/api/users/{user_id}/password")
    if answer.status_code >= 400:
        errors = Refusal.of(answer)
        return await users_page(page, errors=errors, status=refused_status(errors))
    made = answer.json()
    return await users_page(page, shown={"user": made, "password": made["temporary_password"], "new": False})


# ---- tokens -------------------------------------------------------------------------------------


async def tokens_page(
    page: Page,
    *,
    values: dict[str, Any] | None = None,
    errors: Refusal | None = None,
    secret: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    tokens = await page.api.json("/api/tokens", cursor=page.request.query_params.get(AFTER) or None)
    units = await subtree_units(page)
    return page.render(
        "admin/tokens.html",
        {
            "active": "admin",
            "tokens": tokens["items"],
            "more": page.next_page(tokens["next_cursor"]),
            "units": units,
            "rights": RIGHTS,
            "values": values or {"rights": [Right.read.value], "expires_in_days": "365", "unit": page.viewer.unit},
            "errors": errors,
            "secret": secret,
        },
        status=status,
    )


@router.get("/admin/tokens")
async def tokens(page: Page = Depends(signed_in(ADMINS))) -> HTMLResponse:
    return await tokens_page(page)


@router.post("/admin/tokens")
async def create_token(page: Page = Depends(signed_in(ADMINS))) -> Response:
    """A token for another system; its secret is shown once, on this answer."""
    form = await page.request.form()
    values: dict[str, Any] = {"name": text(form, "name"), "unit": text(form, "unit"), "rights": ticked(form, "rights")}
    values["expires_in_days"] = text(form, "expires_in_days")
    body = {**values, "expires_in_days": values["expires_in_days"] or None}
    answer = await page.api.send("POST", "/api/tokens", json=body)
    if answer.status_code >= 400:
        errors = Refusal.of(answer).folded()
        return await tokens_page(page, values=values, errors=errors, status=refused_status(errors))
    return await tokens_page(page, secret=answer.json(), status=201)


@router.post("/admin/tokens/{token_id}/revoke")
async def revoke_token(token_id: str, page: Page = Depends(signed_in(ADMINS))) -> Response:
    answer = await page.api.send("DELETE", f"/api/tokens/{token_id}")
    if answer.status_code >= 400:
        errors = Refusal.of(answer)
        return await tokens_page(page, errors=errors, status=refused_status(errors))
    return redirect("/admin/tokens")


# ---- units --------------------------------------------------------------------------------------


async def units_page(
    page: Page,
    unit: str | None,
    *,
    errors: Refusal | None = None,
    form: str = "",
    values: dict[str, Any] | None = None,
    done: str = "",
    status: int = 200,
) -> HTMLResponse:
    """A unit of the directory with its child units and bodies, and the admin's forms: load a
    province, rename the unit, record a merge, add the standard bodies. `form` names the form
    a refusal belongs to."""
    code = (unit or "").strip() or (page.viewer.unit if page.viewer.unit != "*" else "")
    shown = await page.api.json(f"/api/units/{code}") if code else None
    children = await page.api.every("/api/units", parent=code or None)
    kids = [u for u in children if u["level"] not in ("body", "village")]
    bodies = [u for u in children if u["level"] in ("body", "village")]
    return page.render(
        "admin/units.html",
        {
            "active": "admin",
            "unit": shown,
            "children": kids,
            "bodies": bodies,
            "levels": LEVEL_LABELS,
            "sources": SOURCES,
            "errors": errors,
            "form": form,
            "values": values or {},
            "done": done,
        },
        status=status,
    )


@router.get("/admin/units")
async def units(
    unit: str | None = None,
    done: str = "",
    page: Page = Depends(signed_in("danh mục đơn vị: mọi người dùng đã đăng nhập; thay đổi: người quản trị")),
) -> HTMLResponse:
    may_see_admin(page)
    return await units_page(page, unit, done=done)


async def unit_action(
    page: Page, unit: str | None, form: str, method: str, path: str, body: dict[str, Any] | None, done: str
) -> Response:
    """Send one of the units page's forms to the API: back to the unit's page with `done` said,
    or the page again with the refusal next to that form's fields."""
    answer = await page.api.send(method, path, json=body)
    if answer.status_code >= 400:
        errors = Refusal.of(answer).folded()
        return await units_page(page, unit, errors=errors, form=form, values=body, status=refused_status(errors))
    return redirect("/admin/units?" + urlencode({"unit": unit or "", "done": done}))


@router.post("/admin/units/load")
async def load_units(page: Page = Depends(signed_in(ADMINS))) -> Response:
    form = await page.request.form()
    body = {"source": text(form, "source"), "provinces": codes(text(form, "provinces"))}
    return await unit_action(page, optional(form, "unit"), "load", "POST", "/api/units/load", body, "load")


@router.post("/admin/units/merge")
async def merge_units(page: Page = Depends(signed_in(ADMINS))) -> Response:
    form = await page.request.form()
    body = {"old": codes(text(form, "old")), "into": text(form, "into"), "on": optional(form, "on")}
    return await unit_action(page, optional(form, "unit"), "merge", "POST", "/api/units/merge", body, "merge")


@router.post("/admin/units/{code}/rename")
async def rename_unit(code: str, page: Page = Depends(signed_in(ADMINS))) -> Response:
    form = await page.request.form()
    return await unit_action(
        page, code, "rename", "PATCH", f"/api/units/{code}", {"name": text(form, "name")}, "rename"
    )


@router.post("/admin/units/{code}/bodies/standard")
async def standard_bodies(
    code: str, page: Page = Depends(signed_in("lãnh đạo quản lý đơn vị, trong cây đơn vị của mình"))
) -> Response:
    return await unit_action(page, code, "bodies", "POST", f"/api/units/{code}/bodies/standard", None, "bodies")
