"""HTTP routes of the notify service, thin: a unit's inbox, its contacts outside the app, the
deliveries and their re-drive, and the notification rules of plans and units. The storage and
the checks are in notifications.py, contacts.py, deliveries.py and rules.py; where a unit named
by its code lies (to check it against the caller), in units.py."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path

from services.notify import contacts, deliveries, domain, notifications, rules
from shared import pages
from shared.access import Caller, Right
from shared.auth import allow
from shared.runtime import Service, service_of

router = APIRouter(prefix="/api")
SCOPES: dict[str, rules.Scope] = {"plans": "plan", "units": "unit"}  # the path's word → the stored scope


@router.get("/notifications")
async def list_notifications(
    unit: str,
    unread: bool = False,
    kind: str | None = None,
    page: pages.Ask = Depends(pages.asking(notifications.LISTED)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope="đơn vị `unit`, trong phạm vi của tài khoản")),
) -> dict[str, Any]:
    """Hộp thư thông báo của một đơn vị, mới nhất trước; lọc chưa đọc (`unread`), theo loại (`kind`).
    Từng trang: `next_cursor` gửi lại làm `cursor` để xem trang sau."""
    async with service.sessions() as session:
        found = await notifications.list_(session, caller=caller, unit=unit, unread=unread, kind=kind, page=page)
    return found.json(notifications.notification_json)


@router.post("/notifications/{notification_id}/read")
async def mark_read(
    notification_id: uuid.UUID,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope="đơn vị của thông báo, trong phạm vi của tài khoản")),
) -> dict[str, Any]:
    """Đánh dấu đã đọc (đọc lại không đổi thời điểm đọc lần đầu)."""
    async with service.transaction() as session:
        await notifications.mark_read(session, caller=caller, notification_id=notification_id)
    return {"id": str(notification_id), "read": True}


@router.post("/notifications/contacts", status_code=201)
async def add_contact(
    body: contacts.ContactIn,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.manage, scope="đơn vị `unit` của người nhận, trong phạm vi của tài khoản")),
) -> dict[str, Any]:
    """Thêm người nhận; kênh theo thứ tự ưu tiên — kênh sau được dùng khi kênh trước hỏng hẳn.
    `unit`: mã đơn vị, hoặc đường dẫn (52.21787) khi hệ thống thông báo chưa biết đơn vị đó."""
    async with service.transaction() as session:
        row = await contacts.create(session, caller=caller, body=body, settings=service.settings)
    return contacts.contact_json(row, secret=True)


@router.get("/notifications/contacts")
async def list_contacts(
    unit: str,
    page: pages.Ask = Depends(pages.asking(contacts.LISTED)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope="đơn vị `unit`, trong phạm vi của tài khoản")),
) -> dict[str, Any]:
    """Những người nhận đang nhận thông báo của một đơn vị, cũ nhất trước, từng trang."""
    async with service.sessions() as session:
        found = await contacts.list_(session, caller=caller, unit=unit, page=page)
    return found.json(contacts.contact_json)


@router.delete("/notifications/contacts/{contact_id}")
async def remove_contact(
    contact_id: uuid.UUID,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.manage, scope="đơn vị của người nhận, trong phạm vi của tài khoản")),
) -> dict[str, Any]:
    """Ngừng gửi cho người nhận này (lịch sử gửi được giữ)."""
    async with service.transaction() as session:
        await contacts.deactivate(session, caller=caller, contact_id=contact_id)
    return {"id": str(contact_id), "active": False}


@router.get("/notifications/deliveries")
async def list_deliveries(
    status: deliveries.Status | None = None,
    unit: str | None = None,
    page: pages.Ask = Depends(pages.asking(deliveries.LISTED)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.admin, scope="đơn vị của thông báo, trong phạm vi của tài khoản")),
) -> dict[str, Any]:
    """Các lần gửi ra ngoài (của các đơn vị trong phạm vi), mới nhất trước, từng trang;
    `status=failed` là danh sách gửi hỏng chờ gửi lại."""
    async with service.sessions() as session:
        found = await deliveries.list_(session, caller=caller, status=status, unit=unit, page=page)
    return found.json(deliveries.delivery_json)


@router.get("/notifications/deliveries/{delivery_id}")
async def get_delivery(
    delivery_id: uuid.UUID,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.admin, scope="đơn vị của thông báo, trong phạm vi của tài khoản")),
) -> dict[str, Any]:
    """Một lần gửi, với nhật ký từng lần thử."""
    async with service.sessions() as session:
        return await deliveries.get_or_raise(session, caller=caller, delivery_id=delivery_id)


@router.post("/notifications/deliveries/redrive")
async def redrive(
    body: deliveries.RedriveIn,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.admin, scope="đơn vị của từng thông báo, trong phạm vi của tài khoản")),
) -> dict[str, Any]:
    """Gửi lại các lần gửi hỏng trong phạm vi (`all`: mọi lần gửi hỏng trong phạm vi), cùng khóa
    chống trùng: người nhận đã nhận thì không nhận lần hai."""
    async with service.transaction() as session:
        ids = await deliveries.redrive(session, caller=caller, body=body)
    return {"redriven": [str(i) for i in ids], "count": len(ids)}


@router.get("/notifications/rules")
async def get_rules(
    unit: str | None = None,
    plan: uuid.UUID | None = None,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope="đơn vị `unit`, trong phạm vi; kế hoạch của cùng nhánh đơn vị")),
) -> dict[str, Any]:
    """Quy tắc đang áp dụng cho một đơn vị (và kế hoạch): mặc định ← kế hoạch ← đơn vị."""
    async with service.sessions() as session:
        return await rules.get(session, caller=caller, settings=service.settings, unit=unit, plan=plan)


@router.put("/notifications/rules/plans/{plan_id}")
async def put_plan_rules(
    plan_id: uuid.UUID,
    body: domain.RuleSettings,
    service: Service = Depends(service_of),
    caller: Caller = Depends(
        allow(Right.manage, scope="đơn vị đặt quy tắc của kế hoạch lần đầu (hoặc đơn vị của tài khoản, khi chưa có)")
    ),
) -> dict[str, Any]:
    """Quy tắc thông báo của một kế hoạch (các mục không nêu theo mặc định của hệ thống). Quy
    tắc thuộc đơn vị đặt lần đầu: chỉ lãnh đạo đơn vị đó (hoặc cấp trên) sửa, bỏ được."""
    async with service.transaction() as session:
        return await rules.put(
            session, caller=caller, scope="plan", key=str(plan_id), body=body, offered=service.settings.due_soon_days
        )


@router.put("/notifications/rules/units/{unit_code}")
async def put_unit_rules(
    body: domain.RuleSettings,
    unit_code: str = Path(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$"),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.manage, scope="đơn vị `unit_code`, trong phạm vi của tài khoản")),
) -> dict[str, Any]:
    """Quy tắc thông báo của một đơn vị, ưu tiên hơn quy tắc của kế hoạch; gồm cả chọn nhận bản
    tổng hợp hằng ngày (digest) thay cho từng thông báo."""
    async with service.transaction() as session:
        return await rules.put(
            session, caller=caller, scope="unit", key=unit_code, body=body, offered=service.settings.due_soon_days
        )


@router.delete("/notifications/rules/{scope}/{key}")
async def delete_rules(
    scope: Literal["plans", "units"],
    key: str,
    service: Service = Depends(service_of),
    caller: Caller = Depends(
        allow(Right.manage, scope="như khi đặt quy tắc: đơn vị `key`, hoặc đơn vị đã đặt quy tắc kế hoạch")
    ),
) -> dict[str, Any]:
    """Bỏ quy tắc riêng: trở về quy tắc của kế hoạch hoặc mặc định."""
    async with service.transaction() as session:
        await rules.delete(session, caller=caller, scope=SCOPES[scope], key=key)
    return {"scope": SCOPES[scope], "key": key, "deleted": True}
