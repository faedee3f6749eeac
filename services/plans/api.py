"""HTTP routes of plans, thin: drafts, issue, amend, close, versions, child plans, the cascade
tree, search. The steps and their rules are in lifecycle.py (statuses: domain.next_status),
the checks in checks.py, reading and writing the tables in storage.py, obligations in cascade.py.

Access: reads need Right.read and see the plans of the caller's subtree and the published plans
of the units above it (storage.readable; any other plan answers 404); every write needs
Right.plan on the plan's issuer (lifecycle.py; 403 outside the caller's subtree)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.plans import cascade, lifecycle, storage
from services.plans import models as m
from services.plans.domain import PlanIn
from shared import access, pages
from shared.access import Caller, Right
from shared.auth import allow
from shared.limits import Code
from shared.runtime import Service, service_of

router = APIRouter(prefix="/api/plans")

READ_SCOPE = "kế hoạch của các đơn vị trong cây đơn vị của người gọi và kế hoạch đã ban hành của đơn vị cấp trên"
PLAN_SCOPE = "đơn vị ban hành kế hoạch nằm trong cây đơn vị của người gọi"


class ChildPlanIn(BaseModel):
    unit: Code


@router.post("", status_code=201)
async def create_plan(
    body: PlanIn,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.plan, scope="đơn vị ban hành (`issuer`) nằm trong cây đơn vị của người gọi")),
) -> dict[str, Any]:
    """Lưu dự thảo kế hoạch; kế hoạch không hiểu được bị từ chối, không lưu gì."""
    async with service.transaction() as session:
        drafted = await lifecycle.create(session, body=body, now=service.clock.now(), caller=caller)
        await service.emit(session, drafted.events)
        return await storage.plan_json(session, plan_id=drafted.plan_id)


@router.put("/{plan_id}")
async def update_draft(
    plan_id: uuid.UUID,
    body: PlanIn,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.plan, scope=PLAN_SCOPE)),
) -> dict[str, Any]:
    """Sửa dự thảo (chỉ dự thảo mới được sửa trực tiếp; kế hoạch đã ban hành thì điều chỉnh)."""
    async with service.transaction() as session:
        await lifecycle.update_draft(session, plan_id=plan_id, body=body, caller=caller)
        return await storage.plan_json(session, plan_id=plan_id)


@router.get("/{plan_id}")
async def get_plan(
    plan_id: uuid.UUID,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=READ_SCOPE)),
) -> dict[str, Any]:
    async with service.sessions() as session:
        return await storage.plan_json(session, plan_id=plan_id, caller=caller)


@router.get("")
async def list_plans(
    issuer: str | None = None,
    within: str | None = None,
    period: str | None = None,
    status: str | None = None,
    q: str | None = None,
    page: pages.Ask = Depends(pages.asking(storage.LISTED)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(
        allow(
            Right.read,
            scope=READ_SCOPE + "; `within` phải nằm trong cây đơn vị của người gọi, `issuer` trong cây đó hoặc "
            "là đơn vị cấp trên (ngoài phạm vi: 403)",
        )
    ),
) -> dict[str, Any]:
    """Tìm kế hoạch theo đơn vị ban hành, cây đơn vị (`within`), kỳ, trạng thái, nội dung — trong
    phạm vi người gọi được xem; mới nhất trước, từng trang."""
    async with service.sessions() as session:
        wanted = {"issuer": issuer, "within": within}
        paths = {name: await _path(session, code) for name, code in wanted.items() if code}
        if any(path is None for path in paths.values()):  # a unit the directory does not know has no plans
            return pages.Page([], None).json()
        if within_path := paths.get("within"):
            caller.scope_for(within_path)
        if (issuer_path := paths.get("issuer")) and not access.within(caller.unit_path, issuer_path):
            caller.scope_for(issuer_path)  # its own subtree's issuers, or a unit above it
        found = await storage.list_(
            session, caller=caller, issuer=issuer, within=within, period=period, status=status, q=q, page=page
        )
    return found.json(storage.summary_json)


async def _path(session: AsyncSession, code: str) -> str | None:
    return (await session.execute(select(m.units.c.path).where(m.units.c.code == code))).scalar()


@router.post("/{plan_id}/issue")
async def issue_plan(
    plan_id: uuid.UUID,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.plan, scope=PLAN_SCOPE)),
) -> dict[str, Any]:
    """Ban hành kế hoạch: các đơn vị chủ trì nhận nhiệm vụ theo từng kỳ; các đơn vị cấp dưới
    được giao xây dựng kế hoạch thực hiện."""
    async with service.transaction() as session:
        issued = await lifecycle.issue(session, plan_id=plan_id, now=service.clock.now(), caller=caller)
        await service.emit(session, issued.events)
        return await storage.plan_json(session, plan_id=plan_id)


@router.post("/{plan_id}/amend")
async def amend_plan(
    plan_id: uuid.UUID,
    body: PlanIn,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.plan, scope=PLAN_SCOPE)),
) -> dict[str, Any]:
    """Điều chỉnh kế hoạch đã ban hành: phiên bản mới; tiến độ đã báo cáo được giữ."""
    async with service.transaction() as session:
        amended = await lifecycle.amend(session, plan_id=plan_id, body=body, now=service.clock.now(), caller=caller)
        await service.emit(session, amended.events)
        result = await storage.plan_json(session, plan_id=plan_id)
    return {**result, "changes": amended.changes.model_dump()}


@router.get("/{plan_id}/versions")
async def plan_versions(
    plan_id: uuid.UUID,
    page: pages.Ask = Depends(pages.asking(storage.VERSIONS)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=READ_SCOPE)),
) -> dict[str, Any]:
    """Các phiên bản đã được thay bằng điều chỉnh, cũ nhất trước, từng trang."""
    async with service.sessions() as session:
        found = await storage.versions(session, plan_id=plan_id, caller=caller, page=page)
    return found.json(storage.version_json)


@router.post("/{plan_id}/close")
async def close_plan(
    plan_id: uuid.UUID,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.plan, scope=PLAN_SCOPE)),
) -> dict[str, Any]:
    async with service.transaction() as session:
        closed = await lifecycle.close(session, plan_id=plan_id, now=service.clock.now(), caller=caller)
        await service.emit(session, closed.events)
        return await storage.plan_json(session, plan_id=plan_id)


@router.post("/{plan_id}/children", status_code=201)
async def create_child_plan(
    plan_id: uuid.UUID,
    body: ChildPlanIn,
    service: Service = Depends(service_of),
    caller: Caller = Depends(
        allow(
            Right.plan,
            scope="đơn vị cấp dưới (`unit`) nằm trong cây đơn vị của người gọi; kế hoạch cấp trên người gọi xem được",
        )
    ),
) -> dict[str, Any]:
    """Tạo dự thảo kế hoạch thực hiện của đơn vị cấp dưới, điền sẵn từ kế hoạch cấp trên."""
    async with service.transaction() as session:
        drafted = await lifecycle.create_child(
            session, plan_id=plan_id, unit=body.unit, now=service.clock.now(), caller=caller
        )
        await service.emit(session, drafted.events)
        return await storage.plan_json(session, plan_id=drafted.plan_id)


@router.get("/{plan_id}/tree")
async def plan_tree(
    plan_id: uuid.UUID,
    service: Service = Depends(service_of),
    caller: Caller = Depends(
        allow(Right.read, scope=READ_SCOPE + "; chỉ hiện kế hoạch thực hiện và đơn vị chưa ban hành trong cây đó")
    ),
) -> dict[str, Any]:
    """Kế hoạch và các kế hoạch thực hiện nó; đơn vị nào chưa ban hành kế hoạch."""
    async with service.sessions() as session:
        return await cascade.tree(session, plan_id=plan_id, caller=caller)
