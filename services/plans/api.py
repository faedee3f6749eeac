"""HTTP routes of plans: drafts, issue, amend, close, cascade to child units, search."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import Text, cast, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.plans import models as m
from services.plans.directory_api import get_unit_or_raise, unit_of
from services.plans.domain import (
    ADMIN_LEVELS,
    BODY_LEVELS,
    CheckedPlan,
    Directory,
    PlanIn,
    Unit,
    check_plan,
    child_plan,
    referenced_codes,
    task_changes,
)
from shared.errors import Conflict, FieldProblem, InputError, NotFound
from shared.events import PlanAmended, PlanClosed, PlanDrafted, PlanIssued, PlanTask
from shared.periods import Period, PeriodError
from shared.runtime import Service, service_of
from shared.text import normalize

router = APIRouter(prefix="/api/plans")
IMPLEMENTING_DAYS = 30  # default time child units get to issue their implementing plans


class ChildPlanIn(BaseModel):
    unit: str


async def _directory(session: AsyncSession, plan: PlanIn) -> Directory:
    u = m.units
    rows = (await session.execute(select(u).where(u.c.code.in_(referenced_codes(plan))))).all()
    below = (await session.execute(select(u).where(u.c.parent == plan.issuer).order_by(u.c.code))).all()
    try:
        starts = Period.parse(plan.period).start
    except PeriodError:
        starts = dt.date.max
    return Directory(
        units={r.code: unit_of(r) for r in rows},
        # children that still existed when the plan's period began (legacy communes for 2025 plans)
        children=[
            unit_of(r) for r in below if r.level in ADMIN_LEVELS and (r.valid_to is None or r.valid_to >= starts)
        ],
        bodies=[unit_of(r) for r in below if r.level in BODY_LEVELS],
    )


async def _check(session: AsyncSession, body: PlanIn, *, plan_id: uuid.UUID | None) -> CheckedPlan:
    checked = check_plan(body, directory=await _directory(session, body))
    if not isinstance(checked, CheckedPlan):
        raise InputError(checked)
    problems: list[FieldProblem] = []
    if body.number:
        clash = select(m.plans.c.id).where(
            m.plans.c.issuer == body.issuer, m.plans.c.number == body.number, m.plans.c.year == checked.period.year
        )
        if plan_id is not None:
            clash = clash.where(m.plans.c.id != plan_id)
        if (await session.execute(clash)).first():
            problems.append(
                FieldProblem(
                    "number", f"{checked.issuer.name} đã có kế hoạch số {body.number} năm {checked.period.year}"
                )
            )
    if body.parent_plan is not None:
        problems += await _parent_problems(session, body.parent_plan, checked.issuer, plan_id)
    if problems:
        raise InputError(problems)
    return checked


async def _parent_problems(
    session: AsyncSession, parent_id: uuid.UUID, issuer: Unit, plan_id: uuid.UUID | None
) -> list[FieldProblem]:
    parent = (await session.execute(select(m.plans).where(m.plans.c.id == parent_id))).first()
    if parent is None:
        return [FieldProblem("parent_plan", f"không có kế hoạch {parent_id}")]
    parent_issuer = await get_unit_or_raise(session, parent.issuer)
    if not issuer.is_under(parent_issuer):
        return [FieldProblem("parent_plan", f"kế hoạch cấp trên phải do {issuer.name} hoặc đơn vị cấp trên ban hành")]
    seen: set[uuid.UUID] = set()
    cursor: Any = parent  # walk up: a plan may not implement itself through its parents
    while cursor is not None:
        if cursor.id == plan_id or cursor.id in seen:
            return [FieldProblem("parent_plan", "liên kết kế hoạch cấp trên tạo thành vòng lặp")]
        seen.add(cursor.id)
        cursor = (
            (await session.execute(select(m.plans).where(m.plans.c.id == cursor.parent_plan_id))).first()
            if cursor.parent_plan_id
            else None
        )
    return []


def _content(body: PlanIn) -> dict[str, Any]:
    return body.model_dump(
        mode="json",
        include={
            "place",
            "date",
            "parent",
            "purpose",
            "areas",
            "channels",
            "budget",
            "duties",
            "recipients",
            "signer",
            "due_rules",
        },
    )


def _task_rows(plan_id: uuid.UUID, checked: CheckedPlan) -> list[dict[str, Any]]:
    return [
        {
            "plan_id": plan_id,
            "ref": t.task.ref,
            "position": i,
            "title": t.task.title,
            "is_group": t.is_group,
            "lead": [u.code for u in t.task.lead],
            "lead_text": t.lead_text,
            "coordinating": [u.code for u in t.task.coordinating],
            "schedule": t.task.schedule.model_dump(mode="json"),
            "products": [p.model_dump() for p in t.task.products],
            "area": t.task.area,
            "channels": t.task.channels,
        }
        for i, t in enumerate(checked.tasks)
    ]


def _plan_values(body: PlanIn, checked: CheckedPlan) -> dict[str, Any]:
    return {
        "number": body.number.strip(),
        "title": body.title.strip(),
        "issuer": body.issuer,
        "period": checked.period.code,
        "year": checked.period.year,
        "issued_on": body.date,
        "parent_plan_id": body.parent_plan,
        "parent_ref": body.parent.model_dump(mode="json") if body.parent else None,
        "content": _content(body),
        "implementing_due": body.implementing_due,
        "search": normalize(" ".join([body.number, body.title, body.purpose, *(t.title for t in body.tasks)])),
    }


async def _load(session: AsyncSession, plan_id: uuid.UUID, *, lock: bool = False) -> Any:
    query = select(m.plans).where(m.plans.c.id == plan_id)
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise NotFound(f"không có kế hoạch {plan_id}")
    return row


async def _tasks(session: AsyncSession, plan_id: uuid.UUID) -> list[Any]:
    return list(
        (
            await session.execute(
                select(m.plan_tasks).where(m.plan_tasks.c.plan_id == plan_id).order_by(m.plan_tasks.c.position)
            )
        ).all()
    )


async def _plan_tasks(session: AsyncSession, rows: list[Any]) -> list[PlanTask]:
    """Stored tasks as the event contract carries them (group headings are not tasks)."""
    codes = {c for t in rows for c in (*t.lead, *t.coordinating)}
    units = {
        r.code: unit_of(r) for r in (await session.execute(select(m.units).where(m.units.c.code.in_(codes)))).all()
    }
    return [
        PlanTask(
            ref=t.ref,
            title=t.title,
            lead=[units[c].ref() for c in t.lead],
            coordinating=[units[c].ref() for c in t.coordinating],
            schedule=t.schedule,
            products=t.products,
            area=t.area,
            channels=t.channels,
        )
        for t in rows
        if not t.is_group
    ]


async def _write_plan(session: AsyncSession, statement: Any) -> None:
    """The plan row; two requests racing for one number get a 422 on `number`, not a 500."""
    try:
        async with session.begin_nested():
            await session.execute(statement)
    except IntegrityError as exc:
        if "plans_number_once" not in str(exc.orig):
            raise
        raise InputError([FieldProblem("number", "số kế hoạch này đã được dùng trong năm")]) from None


async def _add_obligations(
    session: AsyncSession, *, plan_id: uuid.UUID, issuer: str, tasks: list[PlanTask], due: dt.date
) -> None:
    """Each child administrative unit that leads a task must issue its own implementing plan."""
    leads = {u.code for t in tasks for u in t.lead}
    u = m.units
    children = (
        (
            await session.execute(
                select(u.c.code).where(u.c.code.in_(leads), u.c.parent == issuer, u.c.level.in_(ADMIN_LEVELS))
            )
        )
        .scalars()
        .all()
    )
    if children:
        await session.execute(
            insert(m.obligations)
            .values([{"plan_id": plan_id, "unit_code": c, "due": due} for c in sorted(children)])
            .on_conflict_do_nothing()
        )


async def plan_json(session: AsyncSession, plan_id: uuid.UUID) -> dict[str, Any]:
    plan = await _load(session, plan_id)
    tasks = await _tasks(session, plan_id)
    return {
        "id": str(plan.id),
        "number": plan.number,
        "title": plan.title,
        "issuer": plan.issuer,
        "period": plan.period,
        "status": plan.status,
        "version": plan.version,
        "issued_on": plan.issued_on.isoformat() if plan.issued_on else None,
        "issued_at": plan.issued_at.isoformat() if plan.issued_at else None,
        "parent_plan": str(plan.parent_plan_id) if plan.parent_plan_id else None,
        "implementing_due": plan.implementing_due.isoformat() if plan.implementing_due else None,
        **plan.content,
        "tasks": [
            {
                "ref": t.ref,
                "title": t.title,
                "group": t.is_group,
                "lead": t.lead,
                "lead_text": t.lead_text,
                "coordinating": t.coordinating,
                "timeline": None if t.is_group else t.schedule,
                "products": t.products,
                "area": t.area,
                "channels": t.channels,
            }
            for t in tasks
        ],
    }


@router.post("", status_code=201)
async def create_plan(body: PlanIn, service: Service = Depends(service_of)) -> dict[str, Any]:
    """Lưu dự thảo kế hoạch; kế hoạch không hiểu được bị từ chối, không lưu gì."""
    async with service.transaction() as session:
        checked = await _check(session, body, plan_id=None)
        plan_id = uuid.uuid4()
        await _write_plan(session, insert(m.plans).values(id=plan_id, status="draft", **_plan_values(body, checked)))
        await session.execute(insert(m.plan_tasks), _task_rows(plan_id, checked))
        await service.emit(
            session,
            [
                service.event(
                    "plan.drafted",
                    unit_path=checked.issuer.path,
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
        return await plan_json(session, plan_id)


@router.put("/{plan_id}")
async def update_draft(plan_id: uuid.UUID, body: PlanIn, service: Service = Depends(service_of)) -> dict[str, Any]:
    """Sửa dự thảo (chỉ dự thảo mới được sửa trực tiếp; kế hoạch đã ban hành thì điều chỉnh)."""
    async with service.transaction() as session:
        plan = await _load(session, plan_id, lock=True)
        if plan.status != "draft":
            raise Conflict(f"kế hoạch {plan.number or plan_id} đã ban hành; dùng điều chỉnh (amend) thay vì sửa")
        if body.issuer != plan.issuer:
            raise InputError([FieldProblem("issuer", "không đổi được đơn vị ban hành của kế hoạch")])
        checked = await _check(session, body, plan_id=plan_id)
        await _write_plan(session, update(m.plans).where(m.plans.c.id == plan_id).values(**_plan_values(body, checked)))
        await session.execute(delete(m.plan_tasks).where(m.plan_tasks.c.plan_id == plan_id))
        await session.execute(insert(m.plan_tasks), _task_rows(plan_id, checked))
        return await plan_json(session, plan_id)


@router.get("/{plan_id}")
async def get_plan(plan_id: uuid.UUID, service: Service = Depends(service_of)) -> dict[str, Any]:
    async with service.sessions() as session:
        return await plan_json(session, plan_id)


@router.get("")
async def list_plans(
    issuer: str | None = None,
    within: str | None = None,
    period: str | None = None,
    status: str | None = None,
    q: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    service: Service = Depends(service_of),
) -> dict[str, Any]:
    """Tìm kế hoạch theo đơn vị ban hành, cây đơn vị (`within`), kỳ, trạng thái, nội dung."""
    p, u = m.plans, m.units
    query = (
        select(p, u.c.name.label("issuer_name"))
        .join(u, u.c.code == p.c.issuer)
        .order_by(p.c.created_at.desc())
        .limit(limit)
    )
    if issuer:
        query = query.where(p.c.issuer == issuer)
    if within:
        query = query.where(func.string_to_array(u.c.path, ".").op("@>")(cast([within], ARRAY(Text))))
    if period:
        query = query.where(p.c.period == period)
    if status:
        query = query.where(p.c.status == status)
    if q:
        for word in normalize(q).split():
            query = query.where(p.c.search.contains(word))
    async with service.sessions() as session:
        rows = (await session.execute(query)).all()
    return {
        "items": [
            {
                "id": str(r.id),
                "number": r.number,
                "title": r.title,
                "issuer": r.issuer,
                "issuer_name": r.issuer_name,
                "period": r.period,
                "status": r.status,
                "version": r.version,
                "parent_plan": str(r.parent_plan_id) if r.parent_plan_id else None,
            }
            for r in rows
        ],
        "count": len(rows),
    }


@router.post("/{plan_id}/issue")
async def issue_plan(plan_id: uuid.UUID, service: Service = Depends(service_of)) -> dict[str, Any]:
    """Ban hành kế hoạch: các đơn vị chủ trì nhận nhiệm vụ theo từng kỳ; các đơn vị cấp dưới
    được giao xây dựng kế hoạch thực hiện."""
    async with service.transaction() as session:
        plan = await _load(session, plan_id, lock=True)
        if plan.status != "draft":
            raise Conflict(
                f"kế hoạch {plan.number or plan_id} đã ở trạng thái {plan.status!r}, chỉ dự thảo mới ban hành được"
            )
        issuer = await get_unit_or_raise(session, plan.issuer)
        rows = await _tasks(session, plan_id)
        tasks = await _plan_tasks(session, rows)
        today = service.clock.today_vn()
        await session.execute(
            update(m.plans)
            .where(m.plans.c.id == plan_id)
            .values(status="issued", issued_at=func.now(), issued_on=func.coalesce(m.plans.c.issued_on, today))
        )
        due = plan.implementing_due or today + dt.timedelta(days=IMPLEMENTING_DAYS)
        await _add_obligations(session, plan_id=plan_id, issuer=plan.issuer, tasks=tasks, due=due)
        if plan.parent_plan_id:
            await session.execute(
                update(m.obligations)
                .where(
                    m.obligations.c.plan_id == plan.parent_plan_id,
                    m.obligations.c.unit_code == plan.issuer,
                    m.obligations.c.fulfilled_by.is_(None),
                )
                .values(fulfilled_by=plan_id)
            )
        await service.emit(
            session,
            [
                service.event(
                    "plan.issued",
                    unit_path=issuer.path,
                    payload=PlanIssued(
                        plan_id=plan.id,
                        number=plan.number,
                        title=plan.title,
                        issuer=issuer.ref(),
                        period=plan.period,
                        tasks=tasks,
                        version=plan.version,
                        parent_plan_id=plan.parent_plan_id,
                        due_rules=plan.content.get("due_rules"),
                    ),
                )
            ],
        )
        return await plan_json(session, plan_id)


@router.post("/{plan_id}/amend")
async def amend_plan(plan_id: uuid.UUID, body: PlanIn, service: Service = Depends(service_of)) -> dict[str, Any]:
    """Điều chỉnh kế hoạch đã ban hành: phiên bản mới; tiến độ đã báo cáo được giữ."""
    async with service.transaction() as session:
        plan = await _load(session, plan_id, lock=True)
        if plan.status not in ("issued", "amended"):
            raise Conflict(f"chỉ điều chỉnh được kế hoạch đã ban hành (trạng thái hiện tại: {plan.status!r})")
        problems = [
            FieldProblem(f, "không đổi được khi điều chỉnh kế hoạch")
            for f, new, old in (("issuer", body.issuer, plan.issuer), ("period", body.period, plan.period))
            if new != old
        ]
        if not body.number:
            problems.append(FieldProblem("number", "kế hoạch đã ban hành phải có số, ký hiệu"))
        if problems:
            raise InputError(problems)
        before_rows = await _tasks(session, plan_id)
        before = await _plan_tasks(session, before_rows)
        snapshot = await plan_json(session, plan_id)
        checked = await _check(session, body, plan_id=plan_id)
        after = checked.plan_tasks()
        changes = task_changes(before, after)
        version = plan.version + 1
        await session.execute(
            insert(m.plan_versions).values(
                plan_id=plan_id, version=plan.version, snapshot=snapshot, changes=changes.model_dump()
            )
        )
        values = _plan_values(body, checked)
        values["issued_on"] = body.date or plan.issued_on
        await _write_plan(
            session, update(m.plans).where(m.plans.c.id == plan_id).values(status="amended", version=version, **values)
        )
        await session.execute(delete(m.plan_tasks).where(m.plan_tasks.c.plan_id == plan_id))
        await session.execute(insert(m.plan_tasks), _task_rows(plan_id, checked))
        issuer = checked.issuer
        today = service.clock.today_vn()
        due = body.implementing_due or plan.implementing_due or today + dt.timedelta(days=IMPLEMENTING_DAYS)
        await _add_obligations(session, plan_id=plan_id, issuer=plan.issuer, tasks=after, due=due)
        await service.emit(
            session,
            [
                service.event(
                    "plan.amended",
                    unit_path=issuer.path,
                    payload=PlanAmended(
                        plan_id=plan_id,
                        number=body.number,
                        title=body.title,
                        issuer=issuer.ref(),
                        period=plan.period,
                        version=version,
                        tasks=after,
                        changes=changes,
                        due_rules=body.due_rules,
                    ),
                )
            ],
        )
        result = await plan_json(session, plan_id)
    result["changes"] = changes.model_dump()
    return result


@router.get("/{plan_id}/versions")
async def plan_versions(plan_id: uuid.UUID, service: Service = Depends(service_of)) -> dict[str, Any]:
    async with service.sessions() as session:
        await _load(session, plan_id)
        rows = (
            await session.execute(
                select(m.plan_versions).where(m.plan_versions.c.plan_id == plan_id).order_by(m.plan_versions.c.version)
            )
        ).all()
    return {
        "items": [
            {
                "version": r.version,
                "changes": r.changes,
                "snapshot": r.snapshot,
                "replaced_at": r.created_at.isoformat(),
            }
            for r in rows
        ]
    }


@router.post("/{plan_id}/close")
async def close_plan(plan_id: uuid.UUID, service: Service = Depends(service_of)) -> dict[str, Any]:
    async with service.transaction() as session:
        plan = await _load(session, plan_id, lock=True)
        if plan.status not in ("issued", "amended"):
            raise Conflict(f"chỉ kết thúc được kế hoạch đã ban hành (trạng thái hiện tại: {plan.status!r})")
        issuer = await get_unit_or_raise(session, plan.issuer)
        await session.execute(
            update(m.plans).where(m.plans.c.id == plan_id).values(status="closed", closed_at=func.now())
        )
        await service.emit(
            session,
            [
                service.event(
                    "plan.closed",
                    unit_path=issuer.path,
                    payload=PlanClosed(plan_id=plan_id, number=plan.number, issuer=issuer.ref()),
                )
            ],
        )
        return await plan_json(session, plan_id)


@router.post("/{plan_id}/children", status_code=201)
async def create_child_plan(
    plan_id: uuid.UUID, body: ChildPlanIn, service: Service = Depends(service_of)
) -> dict[str, Any]:
    """Tạo dự thảo kế hoạch thực hiện của đơn vị cấp dưới, điền sẵn từ kế hoạch cấp trên."""
    async with service.sessions() as session:
        parent = await plan_json(session, plan_id)
        child = await get_unit_or_raise(session, body.unit)
    if parent["status"] == "draft":
        raise Conflict("kế hoạch cấp trên chưa ban hành")
    draft = child_plan(parent, child)
    if not draft["tasks"]:
        raise InputError([FieldProblem("unit", f"{child.name} không được giao nhiệm vụ nào trong kế hoạch này")])
    return await create_plan(PlanIn.model_validate(draft), service)


async def _tree(session: AsyncSession, plan_id: uuid.UUID, depth: int = 0) -> dict[str, Any]:
    plan = await _load(session, plan_id)
    issuer = await get_unit_or_raise(session, plan.issuer)
    o, u = m.obligations, m.units
    duties = (
        await session.execute(
            select(o, u.c.name).join(u, u.c.code == o.c.unit_code).where(o.c.plan_id == plan_id).order_by(o.c.unit_code)
        )
    ).all()
    children = (
        (
            await session.execute(
                select(m.plans.c.id).where(m.plans.c.parent_plan_id == plan_id).order_by(m.plans.c.created_at)
            )
        )
        .scalars()
        .all()
    )
    return {
        "id": str(plan.id),
        "number": plan.number,
        "title": plan.title,
        "issuer": plan.issuer,
        "issuer_name": issuer.name,
        "period": plan.period,
        "status": plan.status,
        "obligations": {"expected": len(duties), "issued": sum(1 for d in duties if d.fulfilled_by)},
        "not_issued": [
            {"unit": d.unit_code, "name": d.name, "due": d.due.isoformat()} for d in duties if d.fulfilled_by is None
        ],
        "children": [await _tree(session, child, depth + 1) for child in children] if depth < 6 else [],
    }


@router.get("/{plan_id}/tree")
async def plan_tree(plan_id: uuid.UUID, service: Service = Depends(service_of)) -> dict[str, Any]:
    """Kế hoạch và các kế hoạch thực hiện nó; đơn vị nào chưa ban hành kế hoạch."""
    async with service.sessions() as session:
        return await _tree(session, plan_id)
