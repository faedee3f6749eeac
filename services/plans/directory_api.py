"""HTTP routes of the unit directory: official units (current and before the 2025 reform),
bodies inside units, renames and merges. Every change is published as a unit.* event.

Access: the directory (official names, codes, bodies) is reference data every signed-in caller
reads, whatever its unit — nothing in it is sensitive. Loading, merging and renaming units need
Right.admin on every unit touched (a province admin loads and merges within its province, a
national admin anywhere); adding bodies to a unit needs Right.manage on that unit."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, StringConstraints, field_validator
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.plans import models as m
from services.plans.bodies import (
    STANDARD_COMMUNE_BODIES,
    STANDARD_DISTRICT_BODIES,
    NamedUnit,
    body_code,
    match,
    name_key,
    short_tag,
)
from services.plans.directory import PROVINCES, CurrentProvince, Succession, UnknownProvince, units_of
from services.plans.domain import Unit
from shared import audit, pages
from shared.access import Caller, Right, within
from shared.auth import allow
from shared.bounded import in_process
from shared.db import chunks
from shared.errors import Conflict, FieldProblem, InputError, NotFound
from shared.events import Event, UnitCreated, UnitRenamed, UnitSucceeded
from shared.limits import MANY, Cleaned, Code
from shared.runtime import Service, service_of
from shared.text import normalize
from shared.units import taken_over

router = APIRouter(prefix="/api/units")

BODIES_SCOPE = "đơn vị (`code`) nằm trong cây đơn vị của người gọi"
ADMIN_SCOPE = "đơn vị (`code`, `into`, `old`) nằm trong cây đơn vị của người quản trị"
DIRECTORY_SCOPE = "mọi người dùng đã đăng nhập: danh mục đơn vị (tên, mã, cơ quan) không phải dữ liệu mật"
UNITS = pages.Key("units", (str,))  # by code
BODIES = pages.Key("bodies", (str, str))  # by name, then code


class LoadUnits(BaseModel):
    source: Literal["vietnam-provinces", "vietnamadminunits"] = "vietnam-provinces"
    # both sources are read by today's 34 provinces (a legacy load brings the old ones they absorbed)
    provinces: list[CurrentProvince] = Field(min_length=1, max_length=len(PROVINCES))

    @field_validator("provinces")
    @classmethod
    def _once_each(cls, provinces: list[str]) -> list[str]:
        twice = sorted(code for code, times in Counter(provinces).items() if times > 1)
        if twice:
            raise ValueError(f"mỗi tỉnh chỉ nêu một lần: {', '.join(twice)}")
        return provinces


UnitName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200), Cleaned]


class BodyIn(BaseModel):
    name: UnitName
    level: Literal["body", "village"] = "body"
    short: str | None = Field(None, max_length=10, pattern=r"^[A-Za-z0-9]+$")


class RenameIn(BaseModel):
    name: UnitName


class MergeIn(BaseModel):
    old: list[Code] = Field(min_length=1, max_length=MANY)
    into: Code
    on: dt.date


def unit_of(row: Any) -> Unit:
    return Unit(
        code=row.code,
        name=row.name,
        level=row.level,
        parent=row.parent,
        path=row.path,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def unit_json(row: Any) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "level": row.level,
        "parent": row.parent,
        "path": row.path,
        "valid_from": row.valid_from.isoformat() if row.valid_from else None,
        "valid_to": row.valid_to.isoformat() if row.valid_to else None,
    }


def created_event(service: Service, unit: Unit) -> Event:
    return service.event(
        "unit.created",
        unit_path=unit.path,
        payload=UnitCreated(
            code=unit.code,
            name=unit.name,
            level=unit.level,
            parent=unit.parent,
            path=unit.path,
            valid_from=unit.valid_from,
            valid_to=unit.valid_to,
        ),
    )


async def get_unit_or_raise(session: AsyncSession, code: str) -> Unit:
    row = (await session.execute(select(m.units).where(m.units.c.code == code))).first()
    if row is None:
        raise NotFound(f"không có đơn vị mã {code!r}")
    return unit_of(row)


async def add_units(session: AsyncSession, service: Service, units: list[Unit]) -> int:
    """Insert the units not yet known (parents first) and publish unit.created for each."""
    if not units:
        return 0
    created: set[str] = set()
    for chunk in chunks(units):
        rows = [
            {
                "code": u.code,
                "name": u.name,
                "level": u.level,
                "parent": u.parent,
                "path": u.path,
                "valid_from": u.valid_from,
                "valid_to": u.valid_to,
            }
            for u in chunk
        ]
        statement = insert(m.units).values(rows).on_conflict_do_nothing().returning(m.units.c.code)
        created.update((await session.execute(statement)).scalars().all())
    await service.emit(session, [created_event(service, u) for u in units if u.code in created])
    return len(created)


async def add_successions(session: AsyncSession, service: Service, successions: list[Succession]) -> int:
    if not successions:
        return 0
    codes = {s.old for s in successions} | {s.new for s in successions}
    known = {r.code: r for r in (await session.execute(select(m.units).where(m.units.c.code.in_(codes)))).all()}
    paths = {code: row.path for code, row in known.items()}
    created: set[tuple[str, str]] = set()
    for chunk in chunks(successions):
        statement = (
            insert(m.unit_successors)
            .values([{"old_code": s.old, "new_code": s.new, "is_default": s.default} for s in chunk])
            .on_conflict_do_nothing()
            .returning(m.unit_successors.c.old_code, m.unit_successors.c.new_code)
        )
        created.update((r.old_code, r.new_code) for r in (await session.execute(statement)).all())
    now = service.clock.now()
    await service.emit(
        session,
        [
            service.event(
                "unit.succeeded",
                unit_path=paths[s.old],
                at=now,
                payload=UnitSucceeded(
                    old=s.old, new=s.new, default=s.default, new_path=paths[s.new], new_name=known[s.new].name
                ),
            )
            for s in successions
            if (s.old, s.new) in created
        ],
    )
    return len(created)


@router.post("/load")
async def load_units(
    body: LoadUnits,
    service: Service = Depends(service_of),
    caller: Caller = Depends(
        allow(Right.admin, scope="mọi đơn vị được nạp nằm trong cây đơn vị của người quản trị (tỉnh của mình)")
    ),
) -> dict[str, Any]:
    """Nạp đơn vị hành chính: `vietnam-provinces` (cơ cấu hiện hành) hoặc `vietnamadminunits`
    (cơ cấu trước 01/7/2025 với liên kết đơn vị kế thừa)."""
    for code in body.provinces:  # before any work: a commune's admin cannot make the service read a province
        caller.require(Right.admin, code)
    # Reading the packages costs seconds of CPU: in a worker process, killed past the limit (503).
    try:
        units, successions = await in_process(
            units_of,
            body.source,
            body.provinces,
            seconds=service.settings.units_load_time_limit_seconds,
            field="provinces",
            what="Nạp đơn vị hành chính",
            setting="CCHC_UNITS_LOAD_TIME_LIMIT_SECONDS",
        )
    except UnknownProvince as exc:
        raise InputError([FieldProblem(f"provinces[{exc.index}]", f"không có tỉnh mã {exc.code!r}")]) from None
    for path in sorted({u.path.partition(".")[0] for u in units}):  # each province's root covers its units
        caller.require(Right.admin, path)
    async with service.transaction() as session:
        created = await add_units(session, service, units)
        linked = await add_successions(session, service, successions)
    return {"loaded": len(units), "created": created, "successions": linked}


@router.get("")
async def list_units(
    parent: str | None = None,
    level: str | None = None,
    q: str | None = None,
    current: bool = False,
    page: pages.Ask = Depends(pages.asking(UNITS, default=pages.MAX_LIMIT)),  # a province's communes: one page
    service: Service = Depends(service_of),
    _: Caller = Depends(allow(None, scope=DIRECTORY_SCOPE)),
) -> dict[str, Any]:
    """Đơn vị theo mã, từng trang: con của `parent` (không nêu: các đơn vị gốc; có `q`: mọi đơn
    vị có tên chứa `q`, không phân biệt dấu), theo cấp (`level`), còn hiệu lực (`current`)."""
    u = m.units
    query = select(u).order_by(u.c.code)
    if parent:
        query = query.where(u.c.parent == parent)
    elif not q:
        query = query.where(u.c.parent.is_(None))
    if level:
        query = query.where(u.c.level == level)
    if current:
        query = query.where(u.c.valid_to.is_(None))
    # the name test is Python's (diacritics): with `q`, read on in chunks until the page is full
    wanted, chunk = (normalize(q), 1000) if q else ("", page.limit + 1)
    after = page.after[0] if page.after else None
    rows: list[Any] = []
    async with service.sessions() as session:
        if parent:
            await get_unit_or_raise(session, parent)
        while len(rows) <= page.limit:
            read = (
                await session.execute((query if after is None else query.where(u.c.code > after)).limit(chunk))
            ).all()
            rows += [r for r in read if wanted in normalize(r.name)] if q else read
            if len(read) < chunk:
                break
            after = read[-1].code
    return page.cut(rows[: page.limit + 1], lambda r: (r.code,)).json(unit_json)


@router.get("/resolve")
async def resolve(
    within: str,
    name: str,
    service: Service = Depends(service_of),
    _: Caller = Depends(allow(None, scope=DIRECTORY_SCOPE)),
) -> dict[str, Any]:
    """Tìm cơ quan, đơn vị theo tên (không phân biệt dấu, hoa thường, chữ viết tắt)."""
    async with service.sessions() as session:
        await get_unit_or_raise(session, within)
        rows = (await session.execute(select(m.units).where(m.units.c.parent == within))).all()
    found = match(name, [NamedUnit(r.code, r.name) for r in rows])
    if found is None:
        raise NotFound(f"không tìm thấy {name!r} trong đơn vị {within}")
    return unit_json(next(r for r in rows if r.code == found.code))


@router.get("/{code}")
async def get_unit(
    code: str, service: Service = Depends(service_of), _: Caller = Depends(allow(None, scope=DIRECTORY_SCOPE))
) -> dict[str, Any]:
    s = m.unit_successors
    async with service.sessions() as session:
        unit = (await session.execute(select(m.units).where(m.units.c.code == code))).first()
        if unit is None:
            raise NotFound(f"không có đơn vị mã {code!r}")
        links = (await session.execute(select(s).where(or_(s.c.old_code == code, s.c.new_code == code)))).all()
    body = unit_json(unit)
    body["successors"] = [{"code": r.new_code, "default": r.is_default} for r in links if r.old_code == code]
    body["predecessors"] = [r.old_code for r in links if r.new_code == code]
    return body


@router.get("/{code}/bodies")
async def list_bodies(
    code: str,
    page: pages.Ask = Depends(pages.asking(BODIES, default=pages.MAX_LIMIT)),
    service: Service = Depends(service_of),
    _: Caller = Depends(allow(None, scope=DIRECTORY_SCOPE)),
) -> dict[str, Any]:
    """Cơ quan, thôn, tổ dân phố trong một đơn vị, theo tên, từng trang."""
    u = m.units
    query = select(u).where(u.c.parent == code, u.c.level.in_(("body", "village")))
    if (after := page.where(u.c.name, u.c.code)) is not None:
        query = query.where(after)
    async with service.sessions() as session:
        await get_unit_or_raise(session, code)
        rows = (await session.execute(query.order_by(u.c.name, u.c.code).limit(page.limit + 1))).all()
    return page.cut(rows, lambda r: (r.name, r.code)).json(unit_json)


async def _create_bodies(
    session: AsyncSession, service: Service, parent: Unit, wanted: list[tuple[str, str, str]], *, skip_existing: bool
) -> list[Unit]:
    existing = (
        await session.execute(select(m.units.c.code, m.units.c.name).where(m.units.c.parent == parent.code))
    ).all()
    keys = {name_key(r.name) for r in existing}
    codes = {r.code for r in existing}
    created: list[Unit] = []
    for short, name, level in wanted:
        if name_key(name) in keys:
            if skip_existing:
                continue
            raise Conflict(f"{parent.name} đã có {name!r}")
        code, suffix = body_code(parent.code, short), 2
        while code in codes:
            code, suffix = body_code(parent.code, f"{short}{suffix}"), suffix + 1
        unit = Unit(
            code=code,
            name=name,
            level=level,  # type: ignore[arg-type]
            parent=parent.code,
            path=f"{parent.path}.{code}",
            valid_from=service.clock.today_vn(),
        )
        created.append(unit)
        keys.add(name_key(name))
        codes.add(code)
    await add_units(session, service, created)
    return created


@router.post("/{code}/bodies", status_code=201)
async def create_body(
    code: str,
    body: BodyIn,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.manage, scope=BODIES_SCOPE)),
) -> dict[str, Any]:
    """Thêm cơ quan, đơn vị, thôn hoặc chức danh vào một đơn vị."""
    async with service.transaction() as session:
        parent = await get_unit_or_raise(session, code)
        caller.require(Right.manage, parent.path)
        if parent.level in ("body", "village"):
            raise InputError([FieldProblem("code", f"{parent.name} là cơ quan/thôn, không chứa đơn vị con")])
        created = await _create_bodies(
            session,
            service,
            parent,
            [(body.short or short_tag(body.name), body.name.strip(), body.level)],
            skip_existing=False,
        )
    unit = created[0]
    return {"code": unit.code, "name": unit.name, "level": unit.level, "parent": unit.parent, "path": unit.path}


@router.post("/{code}/bodies/standard", status_code=201)
async def add_standard_bodies(
    code: str,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.manage, scope=BODIES_SCOPE)),
) -> dict[str, Any]:
    """Thêm bộ cơ quan chuẩn của cấp xã (hoặc cấp huyện cũ); cơ quan đã có được giữ nguyên."""
    async with service.transaction() as session:
        parent = await get_unit_or_raise(session, code)
        caller.require(Right.manage, parent.path)
        standard = {"commune": STANDARD_COMMUNE_BODIES, "district": STANDARD_DISTRICT_BODIES}.get(parent.level)
        if standard is None:
            raise InputError([FieldProblem("code", f"chưa có bộ cơ quan chuẩn cho cấp {parent.level!r}")])
        created = await _create_bodies(
            session, service, parent, [(s, n, "body") for s, n in standard], skip_existing=True
        )
    return {"created": [{"code": u.code, "name": u.name} for u in created]}


@router.patch("/{code}")
async def rename_unit(
    code: str,
    body: RenameIn,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.admin, scope=ADMIN_SCOPE)),
) -> dict[str, Any]:
    async with service.transaction() as session:
        unit = await get_unit_or_raise(session, code)
        caller.require(Right.admin, unit.path)
        audit.note_before({"code": unit.code, "name": unit.name})
        if unit.parent:
            siblings = (
                await session.execute(
                    select(m.units.c.code, m.units.c.name).where(
                        m.units.c.parent == unit.parent, m.units.c.code != code
                    )
                )
            ).all()
            if any(name_key(r.name) == name_key(body.name) for r in siblings):
                raise Conflict(f"đã có đơn vị cùng tên {body.name!r}")
        await session.execute(update(m.units).where(m.units.c.code == code).values(name=body.name.strip()))
        await service.emit(
            session,
            [
                service.event(
                    "unit.renamed",
                    unit_path=unit.path,
                    payload=UnitRenamed(
                        code=code, name=body.name.strip(), level=unit.level, parent=unit.parent, path=unit.path
                    ),
                )
            ],
        )
    return {"code": code, "name": body.name.strip()}


@router.post("/merge")
async def merge_units(
    body: MergeIn,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.admin, scope=ADMIN_SCOPE)),
) -> dict[str, Any]:
    """Ghi nhận sáp nhập: các đơn vị cũ kết thúc trước ngày `on`, lịch sử tính cho đơn vị `into`."""
    async with service.transaction() as session:
        into = await get_unit_or_raise(session, body.into)
        caller.require(Right.admin, into.path)
        problems = []
        if into.valid_to is not None:
            problems.append(FieldProblem("into", f"{into.name} đã kết thúc ngày {into.valid_to:%d/%m/%Y}"))
        # `into` cannot take over itself, a unit above it, or a unit it took over (directly or not)
        predecessors = await taken_over(session, m.unit_successors, {into.code})
        for index, code in enumerate(body.old):
            row = (await session.execute(select(m.units).where(m.units.c.code == code))).first()
            if row is None:
                problems.append(FieldProblem(f"old[{index}]", f"không có đơn vị mã {code!r}"))
                continue
            caller.require(Right.admin, row.path)
            if within(into.path, row.path) or code in predecessors:
                problems.append(FieldProblem(f"old[{index}]", "đơn vị không thể kế thừa chính nó"))
            elif row.valid_to is not None:
                problems.append(FieldProblem(f"old[{index}]", f"{row.name} đã kết thúc từ trước"))
        if problems:
            raise InputError(problems)
        ended = body.on - dt.timedelta(days=1)
        await session.execute(update(m.units).where(m.units.c.code.in_(body.old)).values(valid_to=ended))
        linked = await add_successions(session, service, [Succession(code, into.code, True) for code in body.old])
    return {"into": into.code, "ended": body.old, "valid_to": ended.isoformat(), "successions": linked}
