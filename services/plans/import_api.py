"""POST /api/plans/parse: a plan document uploaded (.docx, .txt, a PDF, a scan as .png/.jpg/.tif)
read into a draft, its bodies resolved against the issuer's units in the directory; with `save`, stored as a
draft plan through the same checks as POST /api/plans.

Access: Right.plan (reading a document is drafting); with `save`, the draft's issuer must lie in
the caller's subtree, checked as POST /api/plans checks it."""

from __future__ import annotations

import asyncio
import functools
import re
import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.plans import models as m
from services.plans.api import create_plan
from services.plans.directory import official_code
from services.plans.domain import ADMIN_LEVELS, BODY_LEVELS, period_start
from services.plans.importer import PlanDraft, UnreadableDocument, read_plan, resolve_plan, to_plan_in
from services.plans.importer.draft import TYPES, kind_of
from services.plans.importer.names import Known
from services.plans.importer.scan import DocumentTooLarge, OcrUnavailable, ReadingTooLong, ReadLimits
from shared.access import Caller, Right
from shared.auth import allow
from shared.bounded import in_process
from shared.containers import ZipLimits, check_zip
from shared.errors import FieldProblem, InputError
from shared.runtime import Service, service_of
from shared.text import normalize
from shared.uploads import PLAN_DOCUMENT_MAX_BYTES, megabytes, read_upload

router = APIRouter(prefix="/api/plans")
MAX_DOCUMENT = PLAN_DOCUMENT_MAX_BYTES  # the gateway's and the service's body limit follow it
ACCEPTED = TYPES  # the upload page says them too (GET /api/plans/parse)


UNIT_CODE = re.compile(r"[A-Za-z0-9_-]{1,40}")


async def _issuer(session: AsyncSession, draft: PlanDraft, given: str | None) -> str | None:
    """The issuer's code: the one given (it must exist), else the one administrative unit whose
    name the document's issuer names ('Ủy ban nhân dân xã Canh Vinh' → 'Xã Canh Vinh')."""
    u = m.units
    if given:
        if (await session.execute(select(u.c.code).where(u.c.code == given))).first() is None:
            raise InputError([FieldProblem("issuer", f"không có đơn vị mã {given!r}")])
        return given
    wanted = normalize(draft.issuer).removeprefix("uy ban nhan dan ").strip()
    if not wanted:
        return None
    # A legacy commune and today's may share a name (L22003 and 22003, "Xã Canh Vinh"): the unit
    # that existed when the plan's period began.
    starts = period_start(draft.period)
    query = select(u.c.code, u.c.name).where(
        u.c.level.in_(ADMIN_LEVELS),
        or_(u.c.valid_from.is_(None), u.c.valid_from <= starts),
        or_(u.c.valid_to.is_(None), u.c.valid_to >= starts),
    )
    found = [row.code for row in (await session.execute(query)).all() if normalize(row.name) == wanted]
    return found[0] if len(found) == 1 else None


async def _bodies(session: AsyncSession, issuer: str | None) -> list[Known]:
    if issuer is None:
        return []
    u = m.units
    rows = (
        await session.execute(select(u.c.code, u.c.name).where(u.c.parent == issuer, u.c.level.in_(BODY_LEVELS)))
    ).all()
    return [Known(row.name, row.code) for row in rows]


def _field(location: tuple[int | str, ...]) -> str:
    """('tasks', 2, 'title') → 'tasks[2].title', as the plan checks name fields."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "file"


def _problems(exc: ValidationError) -> list[FieldProblem]:
    return [FieldProblem(_field(error["loc"]), f"bản nháp chưa đủ để lưu: {error['msg']}") for error in exc.errors()]


UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "Tệp .docx, .txt (UTF-8), .pdf hoặc ảnh quét .png, .jpg, .tif",
                        },
                        "issuer": {"type": "string", "description": "Mã đơn vị ban hành (tùy chọn)"},
                        "save": {"type": "boolean", "description": "Lưu thành dự thảo kế hoạch"},
                    },
                }
            }
        },
    }
}


@router.get("/parse")
async def parse_limits(
    _: Caller = Depends(allow(Right.plan, scope="mọi người được soạn kế hoạch (giới hạn chung, không có dữ liệu)")),
) -> dict[str, Any]:
    """Giới hạn của tệp kế hoạch tải lên, để biểu mẫu nói trước khi tải: dung lượng tối đa, các loại tệp."""
    return {
        "max_bytes": MAX_DOCUMENT,
        "max_size": megabytes(MAX_DOCUMENT),
        "types": list(ACCEPTED),
        "media_types": [media for media, _ in ACCEPTED.values()],
        "type_labels": [label for _, label in ACCEPTED.values()],
    }


@router.post("/parse", openapi_extra=UPLOAD_FORM)
async def parse_document(
    request: Request,
    response: Response,
    service: Service = Depends(service_of),
    caller: Caller = Depends(
        allow(Right.plan, scope="đơn vị của người gọi; khi lưu (`save`), đơn vị ban hành trong cây đơn vị đó")
    ),
) -> Any:
    """Đọc kế hoạch sẵn có (tệp Word .docx, văn bản .txt, PDF, ảnh quét .png/.jpg/.tif — bản quét
    được nhận dạng chữ; trường `file`) thành bản nháp: số, ký
    hiệu, cơ quan ban hành, ngày, kỳ, kế hoạch cấp trên, nhiệm vụ, phân công, cảnh báo kèm số dòng;
    `lines`: văn bản đã đọc, từng dòng với số dòng mà cảnh báo chỉ tới.
    Trường `issuer` (mã đơn vị) tùy chọn; `save=true` lưu thành dự thảo kế hoạch (201)."""
    upload = await read_upload(request, limit=MAX_DOCUMENT, what="tệp kế hoạch", default_name="ke-hoach")
    save = upload.fields.get("save", "").lower() in ("1", "true", "yes", "on")
    given = upload.fields.get("issuer", "").strip()
    if given and not UNIT_CODE.fullmatch(given):  # before the document is read: nothing done for nothing
        message = "mã đơn vị không hợp lệ: chỉ gồm chữ cái không dấu, chữ số, '-', '_'"
        raise InputError([FieldProblem("issuer", message)])
    settings = service.settings
    # a .docx bomb: refused before it is opened (streaming its members is CPU: off the event loop)
    await asyncio.to_thread(check_zip, upload.data, ZipLimits.from_settings(settings))
    # Reading and resolving run in a worker process, killed past the limit (both within it): 503.
    # A PDF or an image may need OCR, seconds a page: it has the OCR limit.
    scan = kind_of(upload.data) in ("pdf", "image")
    limit = settings.import_ocr_time_limit_seconds if scan else settings.import_time_limit_seconds
    ends = time.monotonic() + limit
    setting = "CCHC_IMPORT_OCR_TIME_LIMIT_SECONDS" if scan else "CCHC_IMPORT_TIME_LIMIT_SECONDS"
    bound = {"field": "file", "what": "Đọc tệp kế hoạch", "setting": setting}
    limits = ReadLimits.from_settings(settings)
    try:
        reading = await in_process(read_plan, upload.data, upload.name, limits, seconds=limit, **bound)
    except DocumentTooLarge as exc:
        raise InputError([FieldProblem("file", str(exc))], status=413) from None
    except UnreadableDocument as exc:
        raise InputError([FieldProblem("file", str(exc))], status=415) from None
    except (ReadingTooLong, OcrUnavailable) as exc:
        raise InputError([FieldProblem("file", str(exc))], status=503) from None
    async with service.sessions() as session:
        issuer = await _issuer(session, reading.head, given or None)
        known = await _bodies(session, issuer)
    left = max(ends - time.monotonic(), 0.0)
    resolve = functools.partial(resolve_plan, known=known)  # with the issuer's own bodies
    draft = await in_process(resolve, reading, seconds=left, **bound)
    # As on the command line: the one unit of that name today, even if not loaded here yet.
    draft.issuer_code = issuer or official_code(draft.issuer)
    lines = [{"no": line.no, "text": line.text} for line in reading.lines]
    result: dict[str, Any] = {"file": upload.name, "draft": draft.as_json(), "lines": lines, "plan": None}
    if not save:
        return result
    if issuer is None:
        known_code = f" ({draft.issuer_code}, chưa có trong danh mục: nạp đơn vị trước)" if draft.issuer_code else ""
        raise InputError(
            [FieldProblem("issuer", f"không xác định được đơn vị ban hành{known_code}; gửi kèm mã đơn vị (`issuer`)")]
        )
    try:
        body, left_out = to_plan_in(draft)
    except ValidationError as exc:
        raise InputError(_problems(exc)) from None
    result["plan"] = await create_plan(body, service, caller)
    result["left_out"] = left_out
    response.status_code = 201
    return result
