"""Pages of the inbox room: a unit's notifications and its unread count (GET /api/notifications,
POST /api/notifications/{id}/read), the people who receive them outside the app
(/api/notifications/contacts), the unit's notification rules (/api/notifications/rules) and the
failed deliveries with their re-drive (/api/notifications/deliveries)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response

from web.kit import Page, Refusal, optional, redirect, refused_status, safe_next, signed_in, text, ticked

router = APIRouter(include_in_schema=False)

KIND_LABELS = {
    "assigned": "Nhiệm vụ mới",
    "changed": "Nhiệm vụ điều chỉnh",
    "due_soon": "Sắp đến hạn",
    "overdue": "Quá hạn",
    "escalated": "Đơn vị cấp dưới quá hạn",
    "report_accepted": "Báo cáo được tiếp nhận",
    "report_returned": "Báo cáo bị trả lại",
    "digest": "Tổng hợp hằng ngày",
}
CHANNELS = {
    "email": "Thư điện tử",
    "webhook": "Webhook (cầu nối Zalo OA …)",
    "email,webhook": "Thư điện tử, dự phòng bằng webhook",
    "webhook,email": "Webhook, dự phòng bằng thư điện tử",
}
DELIVERY_STATUSES = {"failed": "Gửi hỏng", "pending": "Đang chờ gửi", "sent": "Đã gửi"}
PAGE_SIZE = 20  # notifications on one page, newest first ("Xem thêm" shows more)
BADGE_LIMIT = 100  # the badge says "99+" past this: it counts no further
RULE_SWITCHES = ("assigned", "coordinating", "overdue", "escalate", "digest")
CONTACT_FIELDS = {"quiet_hours.start": "quiet_start", "quiet_hours.end": "quiet_end", "quiet_hours": "quiet_start"}


def page_path(link: str) -> str:
    """The page of this site a notification links to, as a path (whatever host the link names;
    never //another.host). Notifications stored before their links named pages named the API's
    JSON: those are mapped to the matching page."""
    parts = urlsplit(link)
    path, query = parts.path or "/", parse_qs(parts.query)
    if path.startswith("/api/assignments/"):
        return path.removeprefix("/api")
    if path == "/api/reports/rollup" and query.get("unit") and query.get("period"):
        return f"/reports/{query['unit'][0]}/{query['period'][0]}"
    if path == "/api/notifications":
        return "/inbox"
    return safe_next(path + (f"?{parts.query}" if parts.query else ""))


def unit_of(page: Page, unit: str | None) -> str:
    """The unit whose inbox is shown: the one asked for, else the viewer's own."""
    return (unit or "").strip() or page.viewer.unit


async def unread_count(page: Page, unit: str) -> int:
    answer = await page.api.send(
        "GET", "/api/notifications", params={"unit": unit, "unread": "true", "limit": BADGE_LIMIT}
    )
    return int(answer.json()["count"]) if answer.status_code == 200 else 0


def badge_text(count: int) -> str:
    return "" if count == 0 else ("99+" if count >= BADGE_LIMIT else str(count))


# ---- notifications ------------------------------------------------------------------------------


@router.get("/inbox")
async def inbox(
    unread: bool = False,
    kind: str | None = None,
    unit: str | None = None,
    sau: str | None = Query(None, max_length=1000, description="trang sau: `next_cursor` của API"),
    page: Page = Depends(signed_in("thông báo của đơn vị, trong phạm vi của tài khoản")),
) -> HTMLResponse:
    code = unit_of(page, unit)
    query = {"unit": code, "unread": unread or None, "kind": kind or None}
    found = await page.api.json("/api/notifications", **query, limit=PAGE_SIZE, cursor=sau or None)
    items = [{**item, "page": page_path(item["link"])} for item in found["items"]]
    return page.render(
        "inbox/inbox.html",
        {
            "active": "inbox",
            "items": items,
            "unit": code,
            "unread": unread,
            "kind": kind or "",
            "kinds": KIND_LABELS,
            "filtered": bool(unread or kind),
            "more": page.next_page(found["next_cursor"]),
            "later": bool(sau),
        },
    )


@router.post("/inbox/{notification_id}/read")
async def mark_read(
    notification_id: str, page: Page = Depends(signed_in("thông báo của đơn vị, trong phạm vi của tài khoản"))
) -> Response:
    """Marked read: htmx gets the item's read state (and the unread count, out of band); a plain
    form goes back to the inbox it came from."""
    form = await page.request.form()
    answer = await page.api.send("POST", f"/api/notifications/{notification_id}/read")
    if answer.status_code >= 400:
        return refused_page(page, Refusal.of(answer))
    if not page.htmx:
        back = text(form, "back")
        return redirect(back if safe_next(back).startswith("/inbox") else "/inbox")
    count = await unread_count(page, page.viewer.unit)
    return page.render("inbox/read.html", {"n": {"id": notification_id, "read": True}, "badge": badge_text(count)})


def refused_page(page: Page, refusal: Refusal) -> HTMLResponse:
    """An action the API refused, with its reason (a page of its own: nothing to show it next to)."""
    return page.render(
        "error.html", {"status": refusal.status, "message": refusal.message}, status=refused_status(refusal)
    )


@router.get("/inbox/badge")
async def badge(page: Page = Depends(signed_in("số thông báo chưa đọc của đơn vị mình"))) -> HTMLResponse:
    """The unread count in the navigation (an htmx fragment, asked for every minute)."""
    count = await unread_count(page, page.viewer.unit)
    return page.render("inbox/badge.html", {"badge": badge_text(count)})


# ---- contacts -----------------------------------------------------------------------------------


async def contacts_page(
    page: Page, unit: str, *, values: dict[str, Any], errors: Refusal | None, created: Any = None, status: int = 200
) -> HTMLResponse:
    found = await page.api.whole("/api/notifications/contacts", unit=unit)
    return page.render(
        "inbox/contacts.html",
        {
            "active": "inbox",
            "unit": unit,
            "contacts": found["items"],
            "channels": CHANNELS,
            "values": values,
            "errors": errors,
            "created": created,
        },
        status=status,
    )


@router.get("/inbox/contacts")
async def contacts(
    unit: str | None = None, page: Page = Depends(signed_in("người nhận thông báo của đơn vị, trong phạm vi"))
) -> HTMLResponse:
    return await contacts_page(page, unit_of(page, unit), values={"channels": "email"}, errors=None)


def contact_body(page: Page, unit: str, values: dict[str, str]) -> dict[str, Any]:
    """The API's body of a new contact from the form (the viewer's own unit by its path, which
    notify can place even before it heard of the unit)."""
    quiet = (
        {"start": values["quiet_start"], "end": values["quiet_end"]}
        if values["quiet_start"] or values["quiet_end"]
        else None
    )
    return {
        "unit": page.viewer.unit_path if unit == page.viewer.unit and page.viewer.unit_path != "*" else unit,
        "name": values["name"],
        "email": values["email"] or None,
        "webhook_url": values["webhook_url"] or None,
        "channels": [c for c in values["channels"].split(",") if c],
        "quiet_hours": quiet,
    }


@router.post("/inbox/contacts")
async def add_contact(page: Page = Depends(signed_in("người nhận thông báo của đơn vị mình quản lý"))) -> Response:
    form = await page.request.form()
    unit = unit_of(page, optional(form, "unit"))
    values = {
        name: text(form, name) for name in ("name", "email", "webhook_url", "channels", "quiet_start", "quiet_end")
    }
    answer = await page.api.send("POST", "/api/notifications/contacts", json=contact_body(page, unit, values))
    if answer.status_code >= 400:
        errors = Refusal.of(answer).folded(CONTACT_FIELDS)
        return await contacts_page(page, unit, values=values, errors=errors, status=refused_status(errors))
    made = answer.json()
    if made.get("webhook_secret"):  # shown once: the receiver checks signatures with it
        return await contacts_page(page, unit, values={"channels": "email"}, errors=None, created=made, status=201)
    return redirect(f"/inbox/contacts?{urlencode({'unit': unit})}")


@router.post("/inbox/contacts/{contact_id}/delete")
async def remove_contact(
    contact_id: str, page: Page = Depends(signed_in("người nhận thông báo của đơn vị mình quản lý"))
) -> Response:
    form = await page.request.form()
    unit = unit_of(page, optional(form, "unit"))
    answer = await page.api.send("DELETE", f"/api/notifications/contacts/{contact_id}")
    if answer.status_code >= 400:
        errors = Refusal.of(answer)
        return await contacts_page(
            page, unit, values={"channels": "email"}, errors=errors, status=refused_status(errors)
        )
    return redirect(f"/inbox/contacts?{urlencode({'unit': unit})}")


# ---- rules --------------------------------------------------------------------------------------


async def rules_page(
    page: Page,
    unit: str,
    *,
    errors: Refusal | None,
    values: dict[str, Any] | None = None,
    saved: bool = False,
    status: int = 200,
) -> HTMLResponse:
    found = await page.api.json("/api/notifications/rules", unit=unit)
    return page.render(
        "inbox/rules.html",
        {
            "active": "inbox",
            "unit": unit,
            "rules": values or found["effective"],
            "offered": found["defaults"]["due_soon_days"],
            "own": found["unit"],
            "errors": errors,
            "saved": saved,
        },
        status=status,
    )


@router.get("/inbox/rules")
async def rules(
    unit: str | None = None,
    saved: bool = False,
    page: Page = Depends(signed_in("quy tắc thông báo của đơn vị, trong phạm vi")),
) -> HTMLResponse:
    return await rules_page(page, unit_of(page, unit), errors=None, saved=saved)


def rules_body(form: Any) -> dict[str, Any]:
    """Every rule of the form, as the unit's own (a box not ticked is a rule switched off)."""
    days = text(form, "escalate_after_days")
    return {
        **{name: name in form for name in RULE_SWITCHES},
        "due_soon_days": sorted((int(d) for d in ticked(form, "due_soon_days") if d.isdigit()), reverse=True),
        "escalate_after_days": int(days) if days.isdigit() else days or None,
        "digest_at": optional(form, "digest_at"),
    }


@router.post("/inbox/rules")
async def save_rules(page: Page = Depends(signed_in("quy tắc thông báo của đơn vị mình quản lý"))) -> Response:
    form = await page.request.form()
    unit = unit_of(page, optional(form, "unit"))
    body = rules_body(form)
    answer = await page.api.send("PUT", f"/api/notifications/rules/units/{unit}", json=body)
    if answer.status_code >= 400:
        errors = Refusal.of(answer).folded()
        return await rules_page(page, unit, errors=errors, values=body, status=refused_status(errors))
    return redirect(f"/inbox/rules?{urlencode({'unit': unit, 'saved': 'true'})}")


@router.post("/inbox/rules/reset")
async def reset_rules(page: Page = Depends(signed_in("quy tắc thông báo của đơn vị mình quản lý"))) -> Response:
    form = await page.request.form()
    unit = unit_of(page, optional(form, "unit"))
    answer = await page.api.send("DELETE", f"/api/notifications/rules/units/{unit}")
    if answer.status_code >= 400 and answer.status_code != 404:  # none of its own: already the defaults
        errors = Refusal.of(answer)
        return await rules_page(page, unit, errors=errors, status=refused_status(errors))
    return redirect(f"/inbox/rules?{urlencode({'unit': unit})}")


# ---- deliveries ---------------------------------------------------------------------------------


@router.get("/inbox/deliveries")
async def deliveries(
    status: str = "failed",
    redriven: int | None = None,
    sau: str | None = Query(None, max_length=1000, description="trang sau: `next_cursor` của API"),
    page: Page = Depends(signed_in("các lần gửi thông báo ra ngoài, trong phạm vi quản trị")),
) -> HTMLResponse:
    chosen = status if status in DELIVERY_STATUSES else "failed"
    found = await page.api.json("/api/notifications/deliveries", status=chosen, limit=200, cursor=sau or None)
    return page.render(
        "inbox/deliveries.html",
        {
            "active": "inbox",
            "items": found["items"],
            "status": chosen,
            "statuses": DELIVERY_STATUSES,
            "kinds": KIND_LABELS,
            "redriven": redriven,
            "more": page.next_page(found["next_cursor"]),
        },
    )


@router.post("/inbox/deliveries/redrive")
async def redrive(page: Page = Depends(signed_in("gửi lại thông báo gửi hỏng, trong phạm vi quản trị"))) -> Response:
    form = await page.request.form()
    ids = ticked(form, "id")
    answer = await page.api.send("POST", "/api/notifications/deliveries/redrive", json={"ids": ids, "all": not ids})
    if answer.status_code >= 400:
        return refused_page(page, Refusal.of(answer))
    return redirect(f"/inbox/deliveries?redriven={answer.json()['count']}")
