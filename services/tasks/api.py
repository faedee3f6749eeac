"""HTTP routes of the tasks service, thin: assignments, progress reports, evidence files. The
rules and the storage are in assignments.py, progress.py and evidence.py; who may act on which
assignment in access.py. Reads need `read` within the caller's subtree, progress and evidence
`report` on the assignment's unit; the acting unit and person are the caller's."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.tasks import assignments, evidence, history, progress
from shared import pages
from shared.access import Caller, Right
from shared.auth import allow
from shared.containers import ZipLimits
from shared.followup import FollowUp
from shared.runtime import Service, service_of
from shared.uploads import read_upload

router = APIRouter(prefix="/api")
ASSIGNMENT_READ = "đơn vị của nhiệm vụ được giao nằm trong cây đơn vị của tài khoản (khác: 404)"
ASSIGNMENT_REPORT = (
    "đơn vị của nhiệm vụ được giao nằm trong cây đơn vị của tài khoản (khác: 404); đơn vị báo cáo là của tài khoản"
)


@router.get("/assignments")
async def list_assignments(
    unit: str | None = None,
    within: str | None = None,
    period: str | None = None,
    plan: uuid.UUID | None = None,
    status: FollowUp | None = None,
    page: pages.Ask = Depends(pages.asking(assignments.LISTED)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(
        allow(
            Right.read,
            scope="`unit`/`within` trong cây đơn vị của tài khoản (đơn vị cấp trên: 403); chỉ liệt kê cây đơn vị đó",
        )
    ),
) -> dict[str, Any]:
    """Nhiệm vụ được giao của một đơn vị (`unit`) hoặc cả cây đơn vị (`within`), lọc theo kỳ,
    kế hoạch, trạng thái (done_on_time, done_late, in_progress, overdue, not_due); chỉ gồm các
    đơn vị trong cây đơn vị của tài khoản. Từng trang: `next_cursor` gửi lại làm `cursor`."""
    today = service.clock.today_vn()
    async with service.sessions() as session:
        found = await assignments.list_(
            session,
            caller=caller,
            today=today,
            unit=unit,
            within=within,
            period=period,
            plan=plan,
            state=status,
            page=page,
        )
    return found.json(lambda r: assignments.assignment_json(r, today))


@router.get("/assignments/work")
async def my_work(
    unit: str,
    days: int = Query(30, ge=1, le=366),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope="`unit` trong cây đơn vị của tài khoản (đơn vị cấp trên: 403)")),
) -> dict[str, Any]:
    """Việc của tôi: việc quá hạn, việc đến hạn trong `days` ngày tới, số việc theo trạng thái."""
    today = service.clock.today_vn()
    async with service.sessions() as session:
        work = await assignments.work(session, caller=caller, unit=unit, today=today, days=days)
    return {
        "unit": unit,
        "today": today.isoformat(),
        "overdue": [assignments.assignment_json(r, today) for r in work.overdue],
        "due_next": [assignments.assignment_json(r, today) for r in work.due_next],
        "counts": {s.value: n for s, n in work.counts.items()},
    }


@router.get("/assignments/{assignment_id}")
async def get_assignment(
    assignment_id: uuid.UUID,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=ASSIGNMENT_READ)),
) -> dict[str, Any]:
    """Một nhiệm vụ được giao, với các thay đổi do hệ thống thực hiện và lịch sử báo cáo: tối đa
    20 lần mới nhất, cũ trước, lần đang được tính sau cùng; `pages.history` cho biết tổng số lần
    (`total`) và `next_cursor` để đọc các lần trước ở …/history."""
    async with service.sessions() as session:
        return await assignments.get_or_raise(
            session, caller=caller, assignment_id=assignment_id, today=service.clock.today_vn()
        )


@router.get("/assignments/{assignment_id}/history")
async def assignment_history(
    assignment_id: uuid.UUID,
    page: pages.Ask = Depends(pages.asking(history.REPORTS)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=ASSIGNMENT_READ)),
) -> dict[str, Any]:
    """Lịch sử báo cáo của một nhiệm vụ được giao, từng trang, lần mới nhất trước: trang đầu (không
    có `cursor`) bắt đầu bằng lần đang được tính; `next_cursor` dẫn tới các lần cũ hơn, cũng như
    `pages.history.next_cursor` của nhiệm vụ. Mỗi lần có `number` (lần thứ mấy, 1 là lần đầu);
    `total`: số lần báo cáo."""
    async with service.sessions() as session:
        found = await history.list_(session, caller=caller, assignment_id=assignment_id, page=page)
    return found.json()


@router.post("/assignments/{assignment_id}/progress", status_code=201)
async def report_progress(
    assignment_id: uuid.UUID,
    body: progress.ProgressIn,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.report, scope=ASSIGNMENT_REPORT)),
) -> dict[str, Any]:
    """Báo cáo tiến độ một kỳ; báo cáo sau thay số liệu của báo cáo trước, lịch sử được giữ.
    Người báo cáo là tài khoản đăng nhập; `reporter.unit`, nếu gửi, phải là đơn vị của nhiệm vụ."""
    async with service.transaction() as session:
        reported = await progress.report(
            session, caller=caller, assignment_id=assignment_id, body=body, now=service.clock.now()
        )
        await service.emit(session, reported.events)
    return reported.json()


@router.post("/assignments/{assignment_id}/evidence", status_code=201)
async def upload_evidence(
    assignment_id: uuid.UUID,
    request: Request,
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.report, scope=ASSIGNMENT_REPORT)),
) -> dict[str, Any]:
    """Tải lên tệp minh chứng (PDF, ảnh, Word, Excel, PowerPoint, video MP4) cho một nhiệm vụ được
    giao; trường `file`. Người tải lên là tài khoản đăng nhập; trường `unit`, nếu gửi, phải là
    đơn vị của nhiệm vụ."""
    settings = service.settings
    upload = await read_upload(
        request, limit=settings.evidence_max_bytes, what="tệp minh chứng", default_name="minh-chung"
    )
    async with service.transaction() as session:
        stored = await evidence.store(
            session,
            caller=caller,
            assignment_id=assignment_id,
            upload=upload,
            accepted=settings.evidence_types,
            now=service.clock.now(),
            zip_limits=ZipLimits.from_settings(settings),
            quota=settings.evidence_quota_bytes_per_unit,
        )
    return evidence.file_json(stored)


@router.get("/assignments/{assignment_id}/evidence")
async def list_evidence(
    assignment_id: uuid.UUID,
    page: pages.Ask = Depends(pages.asking(evidence.FILES)),
    service: Service = Depends(service_of),
    caller: Caller = Depends(allow(Right.read, scope=ASSIGNMENT_READ)),
) -> dict[str, Any]:
    """Các tệp minh chứng đã tải lên cho một nhiệm vụ được giao, cũ nhất trước, từng trang; và
    giới hạn của tệp tải lên (`limits`: dung lượng tối đa, các loại tệp được nhận)."""
    async with service.sessions() as session:
        found = await evidence.list_(session, caller=caller, assignment_id=assignment_id, page=page)
    limits = evidence.limits_json(
        max_bytes=service.settings.evidence_max_bytes, accepted=service.settings.evidence_types
    )
    return found.json(evidence.file_json, limits=limits)


@router.get("/evidence/{file_id}")
async def download_evidence(
    file_id: uuid.UUID,
    service: Service = Depends(service_of),
    caller: Caller = Depends(
        allow(Right.read, scope="đơn vị của nhiệm vụ có tệp minh chứng nằm trong cây đơn vị của tài khoản (khác: 404)")
    ),
) -> Response:
    """Tải về tệp minh chứng, đúng tên và loại tệp đã tải lên."""
    async with service.sessions() as session:
        row = await evidence.get_or_raise(session, caller=caller, file_id=file_id)
    return Response(row.data, media_type=row.content_type, headers=evidence.download_headers(row))
