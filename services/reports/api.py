"""HTTP routes of the reports service, thin: roll-ups over a unit's subtree, its children one
by one, the units that lag, the trend over the quarters of a year, the periodic report (JSON,
DOCX, XLSX), and the submission of reports up the tree. The counting is in queries.py, the
documents in documents.py, the submission rules in submissions.py.

Who may: every figure is read about a unit in the caller's subtree (a unit outside it, in the
query or the path, is 403: unit codes are public, figures are not); a unit's head submits its
own report; only the head of the direct parent accepts or returns it; the unit reads the
decisions on its own reports."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.reports import audit, submissions
from services.reports import models as m
from services.reports import queries as q
from services.reports.documents import PeriodicReport, docx_bytes, xlsx_bytes
from services.reports.submissions import periodic
from shared import pages
from shared.access import Caller, Right
from shared.auth import allow
from shared.bounded import in_process
from shared.errors import FieldProblem, InputError
from shared.periods import Period, PeriodError
from shared.runtime import Service, service_of
from shared.vocabularies import CHANNELS, CONTENT_AREAS, PRODUCT_KINDS

router = APIRouter(prefix="/api/reports")


@contextlib.asynccontextmanager
async def snapshot(service: Service, *, aggregates: bool = False) -> AsyncIterator[AsyncSession]:
    """A read-only session on one snapshot: the figures of one answer (totals, outputs,
    children …) come from the same committed state, while batches keep committing. An answer
    read from the aggregates alone (`aggregates`) reads a few thousand rows at most: forking
    parallel workers for it costs more than it saves, most on a busy machine."""
    async with service.sessions() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
        if aggregates:
            await session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        yield session


def scope_of(
    unit: str,
    period: str,
    view: q.View = "current",
    plan: uuid.UUID | None = None,
    area: str | None = None,
    channel: str | None = None,
    kind: str | None = None,
) -> q.Scope:
    """The query parameters every roll-up shares, checked by field."""
    problems = []
    wanted = None
    try:
        wanted = Period.parse(period)
    except PeriodError as exc:
        problems.append(FieldProblem("period", str(exc)))
    for name, value, allowed in (
        ("area", area, CONTENT_AREAS),
        ("channel", channel, CHANNELS),
        ("kind", kind, PRODUCT_KINDS),
    ):
        if value is not None and value not in allowed:
            problems.append(FieldProblem(name, f"không có {value!r}; dùng một trong: {', '.join(allowed)}"))
    if problems or wanted is None:
        raise InputError(problems)
    return q.Scope(unit=unit, period=wanted, view=view, plan=plan, area=area, channel=channel, kind=kind)


def _head(scope: q.Scope, name: str) -> dict[str, Any]:
    return {
        "unit": scope.unit,
        "unit_name": name,
        "period": scope.period.code,
        "view": scope.view,
        "filters": {
            k: str(v)
            for k, v in (("plan", scope.plan), ("area", scope.area), ("channel", scope.channel), ("kind", scope.kind))
            if v is not None
        },
    }


IN_SUBTREE = "đơn vị `unit` được hỏi nằm trong cây đơn vị của người gọi"
OF_UNIT = "đơn vị trong đường dẫn nằm trong cây đơn vị của người gọi"


@router.get("/rollup")
async def rollup(
    scope: q.Scope = Depends(scope_of),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=IN_SUBTREE)),
) -> dict[str, Any]:
    """Tổng hợp toàn bộ cây đơn vị: số nhiệm vụ phải báo cáo, đã báo cáo, đúng hạn, theo bốn
    trạng thái theo dõi, theo cấp, sản phẩm theo loại, lĩnh vực và hình thức.

    `view=current` (mặc định) tính lại theo cơ cấu hiện hành: kết quả của xã cũ đã sáp nhập được
    cộng cho xã mới; `view=as_reported` giữ cây đơn vị như tại thời điểm báo cáo. Lọc theo `plan`,
    `area` (lĩnh vực), `channel` (hình thức) và `kind` (loại sản phẩm: chỉ lọc số sản phẩm).
    `unit=VN`: cả nước (chỉ tài khoản có phạm vi toàn quốc); đơn vị trực thuộc của nó là các tỉnh."""
    today = service.clock.today_vn()
    async with snapshot(service, aggregates=True) as session:
        name = (await q.get_unit_or_raise(session, scope.unit, caller=caller)).name
        return _head(scope, name) | await q.rollup(session, scope, today)


@router.get("/children")
async def children(
    scope: q.Scope = Depends(scope_of),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=IN_SUBTREE)),
) -> dict[str, Any]:
    """Từng đơn vị trực thuộc với số liệu của riêng nó (cả đơn vị chưa có nhiệm vụ), đơn vị có
    tỷ lệ báo cáo thấp nhất trước."""
    today = service.clock.today_vn()
    async with snapshot(service, aggregates=True) as session:
        name = (await q.get_unit_or_raise(session, scope.unit, caller=caller)).name
        rows = await q.children(session, scope, today)
    return _head(scope, name) | {"items": rows, "count": len(rows)}


@router.get("/lagging")
async def lagging(
    scope: q.Scope = Depends(scope_of),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=IN_SUBTREE)),
) -> dict[str, Any]:
    """Đơn vị chưa báo cáo dù đã quá hạn, đơn vị chậm lâu nhất trước."""
    today = service.clock.today_vn()
    async with snapshot(service) as session:
        name = (await q.get_unit_or_raise(session, scope.unit, caller=caller)).name
        rows = await q.lagging(session, scope, today)
    return _head(scope, name) | {"items": rows, "count": len(rows), "as_of": today.isoformat()}


@router.get("/trend")
async def trend(
    scope: q.Scope = Depends(scope_of),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=IN_SUBTREE)),
) -> dict[str, Any]:
    """Xu hướng trong năm: số liệu của cả cây đơn vị theo từng quý của năm chứa kỳ `period`
    (phải báo cáo, đã báo cáo, đúng hạn, tỷ lệ, bốn trạng thái), như `rollup` của từng quý, không
    kèm sản phẩm."""
    today = service.clock.today_vn()
    async with snapshot(service, aggregates=True) as session:
        name = (await q.get_unit_or_raise(session, scope.unit, caller=caller)).name
        items = await q.by_quarter(session, scope, today)
    return _head(scope, name) | {"items": items, "count": len(items)}


async def periodic_report(
    service: Service, scope: q.Scope, caller: Caller, number: str, signer: str = ""
) -> PeriodicReport:
    today = service.clock.today_vn()
    u = m.units
    async with snapshot(service) as session:
        unit = await q.get_unit_or_raise(session, scope.unit, caller=caller)
        parent = None
        if unit.parent:
            parent = (await session.execute(select(u.c.name).where(u.c.code == unit.parent))).scalar()
        return PeriodicReport(
            unit=scope.unit,
            unit_name=unit.name,
            unit_level=unit.level,
            parent_name=parent,
            period=scope.period,
            view=scope.view,
            issued_on=today,
            number=number.strip(),
            totals=await q.totals(session, scope, today),
            outputs=await q.outputs(session, scope),
            outputs_by_area=await q.outputs(session, scope, by="area"),
            tasks=await q.tasks(session, scope, today),
            children=await q.children(session, scope, today),
            lagging=await q.lagging(session, scope, today),
            highlights=await q.highlights(session, scope),
            signer=signer.strip(),
        )


def _report_scope(unit: str, period: str, view: q.View, plan: uuid.UUID | None) -> q.Scope:
    return q.Scope(unit=unit, period=periodic(period), view=view, plan=plan)


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _attachment(content: bytes, media_type: str, report: PeriodicReport, suffix: str) -> Response:
    """The file as a download named in Vietnamese ("Báo cáo CCHC - Xã Vĩnh Sơn - quý I năm
    2026.docx"), with a plain-ASCII name for clients that read only `filename`."""
    plain = f"bao-cao-cchc-{report.unit}-{report.period.code}{suffix}"
    named = f"Báo cáo CCHC - {report.unit_name} - {report.period.label_vi()}{suffix}".replace("/", "-")
    disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(named)}"
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


async def _made(service: Service, make: Callable[[PeriodicReport], bytes], report: PeriodicReport) -> bytes:
    """The file made in a worker process, killed past CCHC_DOCUMENT_TIME_LIMIT_SECONDS: 503."""
    return await in_process(
        make,
        report,
        seconds=service.settings.document_time_limit_seconds,
        field="report",
        what="Tạo tệp báo cáo",
        setting="CCHC_DOCUMENT_TIME_LIMIT_SECONDS",
    )


@router.get("/{unit}/{period}.docx")
async def report_docx(
    unit: str,
    period: str,
    view: q.View = "current",
    plan: uuid.UUID | None = None,
    number: str = Query("", max_length=50),
    signer: str = Query("", max_length=80, description="Họ và tên người ký"),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=OF_UNIT)),
) -> Response:
    """Báo cáo định kỳ theo thể thức Nghị định 30/2020/NĐ-CP (tệp Word)."""
    report = await periodic_report(service, _report_scope(unit, period, view, plan), caller, number, signer)
    return _attachment(await _made(service, docx_bytes, report), DOCX, report, ".docx")


@router.get("/{unit}/{period}.xlsx")
async def report_xlsx(
    unit: str,
    period: str,
    view: q.View = "current",
    plan: uuid.UUID | None = None,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=OF_UNIT)),
) -> Response:
    """Bảng nhiệm vụ, bảng đơn vị và đơn vị chậm báo cáo (tệp Excel)."""
    report = await periodic_report(service, _report_scope(unit, period, view, plan), caller, "")
    return _attachment(await _made(service, xlsx_bytes, report), XLSX, report, ".xlsx")


@router.get("/{unit}/{period}")
async def report_json(
    unit: str,
    period: str,
    view: q.View = "current",
    plan: uuid.UUID | None = None,
    number: str = Query("", max_length=50),
    limit: int = Query(pages.DEFAULT_LIMIT, ge=1, le=pages.MAX_LIMIT, description="số mục của trang đầu mỗi phần"),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=OF_UNIT)),
) -> dict[str, Any]:
    """Số liệu của báo cáo định kỳ: tổng hợp, từng nhiệm vụ, từng đơn vị, đơn vị chậm, mô hình hay.
    Nhiệm vụ (`tasks`) và ý kiến (`highlights`: mô hình hay, ghi chú, lý do không thực hiện được):
    trang đầu, tối đa `limit` mục mỗi phần; `pages` cho biết tổng số và `next_cursor` của từng phần,
    để đọc tiếp ở …/tasks và …/highlights/{kind}. Tệp DOCX, XLSX có đủ mọi mục."""
    report = await periodic_report(service, _report_scope(unit, period, view, plan), caller, number)
    body = report.as_json()
    first = pages.Ask(key=q.TASKS, limit=limit).take(report.tasks, q.task_key)
    body["tasks"] = first.rows
    sections = {"tasks": {"total": len(report.tasks), "next_cursor": first.next_cursor}}
    body["highlights"] = {}
    for kind, entries in report.highlights.items():
        shown = pages.Ask(key=q.HIGHLIGHTS[kind], limit=limit).take(entries, q.highlight_key)
        body["highlights"][kind] = shown.rows
        sections[kind] = {"total": len(entries), "next_cursor": shown.next_cursor}
    return body | {"pages": sections}


@router.get("/{unit}/{period}/tasks")
async def report_tasks(
    unit: str,
    period: str,
    view: q.View = "current",
    plan: uuid.UUID | None = None,
    page: pages.Ask = Depends(pages.asking(q.TASKS)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=OF_UNIT)),
) -> dict[str, Any]:
    """Phần nhiệm vụ của báo cáo định kỳ, từng trang: mỗi nhiệm vụ của kế hoạch một dòng, theo số
    kế hoạch rồi số nhiệm vụ; `total`: số nhiệm vụ của cả báo cáo."""
    scope = _report_scope(unit, period, view, plan)
    async with snapshot(service) as session:
        await q.get_unit_or_raise(session, scope.unit, caller=caller)
        rows = await q.tasks(session, scope, service.clock.today_vn())
    return page.take(rows, q.task_key).json(total=len(rows))


@router.get("/{unit}/{period}/highlights/{kind}")
async def report_highlights(
    unit: str,
    period: str,
    kind: Literal["good_models", "notes", "cannot_do"],
    view: q.View = "current",
    plan: uuid.UUID | None = None,
    limit: int = Query(pages.DEFAULT_LIMIT, ge=1, le=pages.MAX_LIMIT, description="số mục tối đa của một trang"),
    cursor: str | None = Query(None, max_length=pages.MAX_CURSOR, description="`next_cursor` của trang trước"),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=OF_UNIT)),
) -> dict[str, Any]:
    """Ý kiến trong báo cáo định kỳ, từng trang: mô hình hay (`good_models`), ghi chú (`notes`),
    lý do không thực hiện được (`cannot_do`), theo đơn vị rồi số nhiệm vụ; `total`: số mục của cả báo cáo."""
    key = q.HIGHLIGHTS[kind]
    page = pages.Ask(key=key, limit=limit, after=key.decode(cursor) if cursor else None)
    scope = _report_scope(unit, period, view, plan)
    async with snapshot(service) as session:
        await q.get_unit_or_raise(session, scope.unit, caller=caller)
        entries = (await q.highlights(session, scope))[kind]
    return page.take(entries, q.highlight_key).json(total=len(entries))


@router.post("/{unit}/{period}/submit", status_code=201)
async def submit(
    unit: str,
    period: str,
    body: submissions.SubmitIn | None = None,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.submit, scope="chính đơn vị trong đường dẫn (lãnh đạo đơn vị gửi báo cáo)")),
) -> dict[str, Any]:
    """Gửi báo cáo định kỳ lên cấp trên (lần gửi mới sau khi bị trả lại)."""
    now, today = service.clock.now(), service.clock.today_vn()
    async with service.transaction() as session:
        sent = await submissions.submit(
            session, unit=unit, period=period, body=body or submissions.SubmitIn(), caller=caller, now=now, today=today
        )
        await service.emit(session, sent.events)
    return submissions.submission_json(sent.row)


REVIEWER = "cấp trên trực tiếp của đơn vị trong đường dẫn"


async def _review(
    unit: str,
    period: str,
    body: submissions.ReviewIn | None,
    service: Service,
    caller: Caller,
    *,
    decision: submissions.Decision,
) -> dict[str, Any]:
    now, today = service.clock.now(), service.clock.today_vn()
    async with service.transaction() as session:
        decided = await submissions.review(
            session,
            unit=unit,
            period=period,
            body=body or submissions.ReviewIn(),
            decision=decision,
            caller=caller,
            now=now,
            today=today,
        )
        await service.emit(session, decided.events)
    return submissions.submission_json(decided.row)


@router.post("/{unit}/{period}/accept")
async def accept(
    unit: str,
    period: str,
    body: submissions.ReviewIn | None = None,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.review, scope=REVIEWER)),
) -> dict[str, Any]:
    """Cấp trên tiếp nhận báo cáo: báo cáo được khóa."""
    return await _review(unit, period, body, service, caller, decision="accepted")


@router.post("/{unit}/{period}/return")
async def give_back(
    unit: str,
    period: str,
    body: submissions.ReviewIn | None = None,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.review, scope=REVIEWER)),
) -> dict[str, Any]:
    """Cấp trên trả lại báo cáo, nêu lý do (trả lại báo cáo đã tiếp nhận là mở lại để điều chỉnh)."""
    return await _review(unit, period, body, service, caller, decision="returned")


@router.post("/{unit}/{period}/reopen")
async def reopen(
    unit: str,
    period: str,
    body: submissions.ReviewIn | None = None,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.review, scope=REVIEWER)),
) -> dict[str, Any]:
    """Cấp trên mở lại báo cáo đã tiếp nhận, nêu lý do: báo cáo được mở khóa để đơn vị điều
    chỉnh số liệu và gửi lại (lần gửi mới); các dịch vụ khác nhận sự kiện report.returned."""
    return await _review(unit, period, body, service, caller, decision="reopened")


def due_for(service: Service) -> submissions.DueFor:
    """The report deadline of a level in a period: staggered by level, on a working day."""
    settings = service.settings
    calendar = settings.calendar()

    def due(period: Period, level: str) -> date:
        return calendar.on_or_after(settings.due_rules.report_due(period, level))

    return due


@router.get("/{unit}/{period}/submissions")
async def versions(
    unit: str,
    period: str,
    page: pages.Ask = Depends(pages.asking(submissions.VERSIONS)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(
        allow(Right.read, scope="đơn vị trong đường dẫn (xem quyết định về báo cáo của mình) hoặc cấp trên của nó")
    ),
) -> dict[str, Any]:
    """Các lần gửi báo cáo của đơn vị trong kỳ, lần mới nhất trước, từng trang; và hạn gửi báo
    cáo của đơn vị."""
    async with service.sessions() as session:
        found = await submissions.list_(session, unit=unit, period=period, caller=caller, page=page)
        own = await q.get_unit_or_raise(session, unit)
    due = due_for(service)(periodic(period), own.level)
    return found.json(submissions.submission_json, due=due.isoformat())


@router.get("/{unit}/{period}/children-submissions")
async def children_submissions(
    unit: str,
    period: str,
    page: pages.Ask = Depends(pages.asking(submissions.CHILDREN, default=pages.MAX_LIMIT)),  # a unit's children
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=OF_UNIT)),
) -> dict[str, Any]:
    """Cấp trên xem tình hình gửi báo cáo của từng đơn vị trực thuộc, với hạn gửi theo cấp:
    chưa gửi và quá hạn trước, từng trang (`counts`: của mọi đơn vị trực thuộc)."""
    async with service.sessions() as session:
        return await submissions.children(
            session,
            unit=unit,
            period=period,
            caller=caller,
            today=service.clock.today_vn(),
            due_for=due_for(service),
            page=page,
        )


@router.get("/audit")
async def audit_trail(
    unit: str | None = None,
    since: datetime | None = None,
    page: pages.Ask = Depends(pages.asking(audit.TRAIL)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(
        allow(Right.read, scope="thao tác của đơn vị mình và cấp dưới; chỉ lãnh đạo, thanh tra, quản trị")
    ),
) -> dict[str, Any]:
    """Nhật ký thao tác ghi của mọi dịch vụ: ai (người dùng, mã truy cập), thay mặt đơn vị nào,
    làm gì (đường dẫn, đối tượng, nội dung gửi — đã che mật khẩu, khóa bí mật), lúc nào, từ đâu;
    mới nhất trước, từng trang."""
    async with service.sessions() as session:
        found = await audit.trail(session, caller=caller, unit=unit, since=since, page=page)
    return found.json(audit.entry_json)
