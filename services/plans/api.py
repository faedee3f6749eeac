"""HTTP routes of the plans service: the unit directory and plans (thin: check, write, emit)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.plans import models as m
from services.plans.directory import official_units
from services.plans.domain import ADMIN_LEVELS, CHILDREN, CheckedPlan, PlanIn, Unit, check_plan, unit_codes
from shared.errors import Conflict, FieldProblem, InputError, NotFound
from shared.events import PlanDrafted, PlanIssued, PlanTask, UnitCreated, make_event
from shared.runtime import Service, service_of

router = APIRouter(prefix="/api")


class LoadUnits(BaseModel):
    source: Literal["vietnam-provinces"] = "vietnam-provinces"
    provinces: list[str] = Field(min_length=1)


def _unit(row: Any) -> Unit:
    return Unit(code=row.code, name=row.name, level=row.level, parent=row.parent, path=row.path)


def _unit_json(row: Any) -> dict[str, Any]:
    return {"code": row.code, "name": row.name, "level": row.level, "parent": row.parent, "path": row.path}


@router.post("/units/load", status_code=200)
async def load_units(body: LoadUnits, service: Service = Depends(service_of)) -> dict[str, Any]:
    """Nạp tỉnh và các xã, phường của tỉnh từ danh mục chính thức (vietnam-provinces)."""
    wanted: list[Unit] = []
    for index, province in enumerate(body.provinces):
        try:
            wanted += official_units(province)
        except KeyError:
            raise InputError([FieldProblem(f"provinces[{index}]", f"không có tỉnh mã {province!r}")]) from None
    async with service.transaction() as session:
        created = (
            (
                await session.execute(
                    insert(m.units)
                    .values(
                        [
                            {"code": u.code, "name": u.name, "level": u.level, "parent": u.parent, "path": u.path}
                            for u in wanted
                        ]
                    )
                    .on_conflict_do_nothing()
                    .returning(m.units.c.code)
                )
            )
            .scalars()
            .all()
        )
        fresh = set(created)
        now = service.clock.now()
        await service.emit(
            session,
            [
                make_event(
                    "unit.created",
                    unit_path=u.path,
                    producer=service.name,
                    at=now,
                    payload=UnitCreated(code=u.code, name=u.name, level=u.level, parent=u.parent, path=u.path),
                )
                for u in wanted
                if u.code in fresh
            ],
        )
    return {"loaded": len(wanted), "created": len(fresh)}


@router.get("/units")
async def list_units(
    parent: str | None = None, level: str | None = None, service: Service = Depends(service_of)
) -> dict[str, Any]:
    query = select(m.units).order_by(m.units.c.code)
    query = query.where(m.units.c.parent == parent) if parent else query.where(m.units.c.parent.is_(None))
    if level:
        query = query.where(m.units.c.level == level)
    async with service.sessions() as session:
        if parent and (await session.execute(select(m.units.c.code).where(m.units.c.code == parent))).first() is None:
            raise NotFound(f"không có đơn vị mã {parent!r}")
        rows = (await session.execute(query)).all()
    return {"items": [_unit_json(row) for row in rows], "count": len(rows)}


@router.get("/units/{code}")
async def get_unit(code: str, service: Service = Depends(service_of)) -> dict[str, Any]:
    async with service.sessions() as session:
        row = (await session.execute(select(m.units).where(m.units.c.code == code))).first()
    if row is None:
        raise NotFound(f"không có đơn vị mã {code!r}")
    return _unit_json(row)


async def _units_for(session: AsyncSession, plan: PlanIn) -> tuple[dict[str, Unit], list[Unit]]:
    rows = (await session.execute(select(m.units).where(m.units.c.code.in_(unit_codes(plan))))).all()
    children: list[Unit] = []
    if any(CHILDREN in (*t.lead, *t.coordinating) for t in plan.tasks):
        children = [
            _unit(r)
            for r in (
                await session.execute(
                    select(m.units)
                    .where(m.units.c.parent == plan.issuer, m.units.c.level.in_(ADMIN_LEVELS))
                    .order_by(m.units.c.code)
                )
            ).all()
        ]
    return {r.code: _unit(r) for r in rows}, children


@router.post("/plans", status_code=201)
async def create_plan(body: PlanIn, service: Service = Depends(service_of)) -> dict[str, Any]:
    """Lưu dự thảo kế hoạch; kế hoạch không hiểu được bị từ chối, không lưu gì."""
    async with service.transaction() as session:
        units, children = await _units_for(session, body)
        checked = check_plan(body, units=units, children=children)
        if not isinstance(checked, CheckedPlan):
            raise InputError(checked)
        plan_id = uuid.uuid4()
        await session.execute(
            insert(m.plans).values(
                id=plan_id,
                number=body.number,
                title=body.title,
                issuer=body.issuer,
                period=checked.period.code,
                status="draft",
            )
        )
        await session.execute(
            insert(m.plan_tasks),
            [
                {
                    "plan_id": plan_id,
                    "ref": t.ref,
                    "position": i,
                    "title": t.title,
                    "lead": [u.code for u in t.lead],
                    "coordinating": [u.code for u in t.coordinating],
                    "schedule": t.schedule.model_dump(mode="json"),
                    "products": [p.model_dump() for p in t.products],
                }
                for i, t in enumerate(checked.tasks)
            ],
        )
        await service.emit(
            session,
            [
                make_event(
                    "plan.drafted",
                    unit_path=checked.issuer.path,
                    producer=service.name,
                    at=service.clock.now(),
                    payload=PlanDrafted(
                        plan_id=plan_id,
                        number=body.number,
                        title=body.title,
                        issuer=body.issuer,
                        period=checked.period.code,
                    ),
                )
            ],
        )
    return await _plan_json(service, plan_id)


async def _plan_json(service: Service, plan_id: uuid.UUID) -> dict[str, Any]:
    async with service.sessions() as session:
        plan = (await session.execute(select(m.plans).where(m.plans.c.id == plan_id))).first()
        if plan is None:
            raise NotFound(f"không có kế hoạch {plan_id}")
        tasks = (
            await session.execute(
                select(m.plan_tasks).where(m.plan_tasks.c.plan_id == plan_id).order_by(m.plan_tasks.c.position)
            )
        ).all()
    return {
        "id": str(plan.id),
        "number": plan.number,
        "title": plan.title,
        "issuer": plan.issuer,
        "period": plan.period,
        "status": plan.status,
        "issued_at": plan.issued_at.isoformat() if plan.issued_at else None,
        "tasks": [
            {
                "ref": t.ref,
                "title": t.title,
                "lead": t.lead,
                "coordinating": t.coordinating,
                "timeline": t.schedule,
                "products": t.products,
            }
            for t in tasks
        ],
    }


@router.get("/plans/{plan_id}")
async def get_plan(plan_id: uuid.UUID, service: Service = Depends(service_of)) -> dict[str, Any]:
    return await _plan_json(service, plan_id)


@router.get("/plans")
async def list_plans(
    issuer: str | None = None,
    period: str | None = None,
    status: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    service: Service = Depends(service_of),
) -> dict[str, Any]:
    query = select(m.plans).order_by(m.plans.c.created_at.desc()).limit(limit)
    if issuer:
        query = query.where(m.plans.c.issuer == issuer)
    if period:
        query = query.where(m.plans.c.period == period)
    if status:
        query = query.where(m.plans.c.status == status)
    async with service.sessions() as session:
        rows = (await session.execute(query)).all()
    return {
        "items": [
            {
                "id": str(r.id),
                "number": r.number,
                "title": r.title,
                "issuer": r.issuer,
                "period": r.period,
                "status": r.status,
            }
            for r in rows
        ]
    }


@router.post("/plans/{plan_id}/issue")
async def issue_plan(plan_id: uuid.UUID, service: Service = Depends(service_of)) -> dict[str, Any]:
    """Ban hành kế hoạch: các đơn vị chủ trì nhận nhiệm vụ theo từng kỳ."""
    async with service.transaction() as session:
        plan = (await session.execute(select(m.plans).where(m.plans.c.id == plan_id).with_for_update())).first()
        if plan is None:
            raise NotFound(f"không có kế hoạch {plan_id}")
        if plan.status != "draft":
            raise Conflict(
                f"kế hoạch {plan.number or plan_id} đã ở trạng thái {plan.status!r}, chỉ dự thảo mới ban hành được"
            )
        tasks = (
            await session.execute(
                select(m.plan_tasks).where(m.plan_tasks.c.plan_id == plan_id).order_by(m.plan_tasks.c.position)
            )
        ).all()
        codes = {plan.issuer} | {c for t in tasks for c in (*t.lead, *t.coordinating)}
        units = {
            r.code: _unit(r) for r in (await session.execute(select(m.units).where(m.units.c.code.in_(codes)))).all()
        }
        await session.execute(
            update(m.plans).where(m.plans.c.id == plan_id).values(status="issued", issued_at=func.now())
        )
        issuer = units[plan.issuer]
        payload = PlanIssued(
            plan_id=plan.id,
            number=plan.number,
            title=plan.title,
            issuer=issuer.ref(),
            period=plan.period,
            tasks=[
                PlanTask(
                    ref=t.ref,
                    title=t.title,
                    lead=[units[c].ref() for c in t.lead],
                    coordinating=[units[c].ref() for c in t.coordinating],
                    schedule=t.schedule,
                    products=t.products,
                )
                for t in tasks
            ],
        )
        await service.emit(
            session,
            [
                make_event(
                    "plan.issued",
                    unit_path=issuer.path,
                    producer=service.name,
                    at=service.clock.now(),
                    payload=payload,
                )
            ],
        )
    return await _plan_json(service, plan_id)
