"""One uploaded file from a multipart form, read the same way by every service that takes files
(evidence in tasks, plan documents in plans): size limit before and while reading, a clean file
name, the other form fields as text; every refusal names the field `file`."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from shared.errors import FieldProblem, InputError

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the other fields, beyond the file itself
PLAN_DOCUMENT_MAX_BYTES = 10 * 1024 * 1024  # a plan to import (.docx, .txt): services/plans/import_api.py


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes
    fields: dict[str, str]


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".replace(".", ",") + " MB"


def clean_name(name: str | None, default: str) -> str:
    """The file's own name without any directory part or control characters, at most 200 chars."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C").strip()
    return base[:200] or default


async def read_upload(request: Request, *, limit: int, what: str, default_name: str) -> Upload:
    """The file in field `file` (413 past `limit` bytes, 422 if missing, not multipart or empty)."""
    too_big = InputError([FieldProblem("file", f"tệp quá lớn: tối đa {megabytes(limit)}")], status=413)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise too_big
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InputError([FieldProblem("file", "cần gửi tệp dạng multipart/form-data, trường `file`")])
    try:
        form = await request.form(max_files=1, max_fields=10)
    except HTTPException as exc:  # a broken body, two files, too many fields: Starlette's 400
        raise InputError([FieldProblem("file", f"không đọc được biểu mẫu tải lên: {exc.detail}")]) from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InputError([FieldProblem("file", f"thiếu {what} (trường `file`)")])
        data = await upload.read(limit + 1)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        name = clean_name(upload.filename, default_name)
    finally:
        await form.close()  # the spooled files
    if len(data) > limit:
        raise too_big
    if not data:
        raise InputError([FieldProblem("file", "tệp rỗng")])
    return Upload(name, data, fields)
