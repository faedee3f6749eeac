"""Evidence files (minh chứng) of an assignment's progress: upload, list, download.

A file is uploaded for one assignment (multipart, field `file`), checked for size and for its
type as recognised from its content (a renamed .exe is not a PDF), stored once per content
(the same file uploaded twice is the same evidence), and then referenced from a progress
report as {"kind": "file", "file_id": …}. Who uploaded it is the caller; a file is read by
whoever may read its assignment. The routes are in api.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
import zipfile
from datetime import datetime
from typing import Any
from urllib.parse import quote

import filetype
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.tasks import models as m
from services.tasks.access import open_assignment, readable_assignment
from shared import pages
from shared.access import Caller
from shared.containers import ZipLimits, check_zip
from shared.errors import FieldProblem, InputError, NotFound
from shared.uploads import Upload, megabytes

TYPE_LABELS = {
    "application/pdf": "PDF",
    "image/jpeg": "ảnh JPEG",
    "image/png": "ảnh PNG",
    "image/webp": "ảnh WebP",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word (.docx)",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel (.xlsx)",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint (.pptx)",
    "application/msword": "Word (.doc)",
    "application/vnd.ms-excel": "Excel (.xls)",
    "video/mp4": "video MP4",
}
_f = m.evidence_files.c
LISTED = [
    _f.id,
    _f.assignment_id,
    _f.name,
    _f.content_type,
    _f.size,
    _f.sha256,
    _f.uploader,
    _f.uploaded_at,
]  # what is listed of a file: all but its bytes


def file_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "assignment_id": str(row.assignment_id),
        "name": row.name,
        "content_type": row.content_type,
        "type_label": TYPE_LABELS.get(row.content_type, row.content_type),
        "size": row.size,
        "sha256": row.sha256,
        "url": f"/api/evidence/{row.id}",
        "uploader": row.uploader,
        "uploaded_at": row.uploaded_at.isoformat(),
    }


def limits_json(*, max_bytes: int, accepted: list[str]) -> dict[str, Any]:
    """What an upload may be, for a form to say before anyone uploads: size and accepted types."""
    return {
        "max_bytes": max_bytes,
        "max_size": megabytes(max_bytes),
        "types": accepted,
        "type_labels": [TYPE_LABELS.get(t, t) for t in accepted],
    }


OFFICE_PARTS = {
    "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/presentation.xml": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def _sniff(data: bytes) -> str | None:
    """The file's type from its content. Office files are ZIP archives whose first entries do not
    always say what they are, so an archive is opened and its parts looked at."""
    kind = filetype.guess(data)
    if kind is not None and kind.mime != "application/zip":
        return str(kind.mime)
    if data.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except zipfile.BadZipFile:
            return None
        return next((mime for part, mime in OFFICE_PARTS.items() if part in names), "application/zip")
    return None


async def store(
    session: AsyncSession,
    *,
    caller: Caller,
    assignment_id: uuid.UUID,
    upload: Upload,
    accepted: list[str],
    now: datetime,
    zip_limits: ZipLimits,
    quota: int,
) -> Any:
    """Store a file the caller uploads for an open assignment it may report on, once per content:
    the same file uploaded twice is the same evidence. The form's `unit`, if sent, must be the
    assignment's unit (403), its `name` is not stored. 415 for a type not accepted; 413 for a
    zip container (Office file) past `zip_limits`, or past the unit's `quota` of bytes."""
    await asyncio.to_thread(check_zip, upload.data, zip_limits)  # before _sniff opens it; unpacking is CPU
    mime = _sniff(upload.data)
    if mime not in accepted:
        found = f" (tệp này là {mime})" if mime else ""
        allowed = ", ".join(TYPE_LABELS.get(t, t) for t in accepted)
        raise InputError([FieldProblem("file", f"loại tệp không được nhận{found}; chỉ nhận: {allowed}")], status=415)
    digest = hashlib.sha256(upload.data).hexdigest()
    row = await open_assignment(session, assignment_id, caller=caller, unit=upload.fields.get("unit") or None)
    f = m.evidence_files
    stored = (
        await session.execute(
            insert(f)
            .values(
                id=uuid.uuid4(),
                assignment_id=row.id,
                name=upload.name,
                content_type=mime,
                size=len(upload.data),
                sha256=digest,
                data=upload.data,
                uploader=caller.actor(),
                uploaded_at=now,
            )
            .on_conflict_do_nothing(constraint="evidence_file_once")
            .returning(*LISTED)
        )
    ).first()
    if stored is None:  # the same content was uploaded before: it is the same evidence
        stored = (await session.execute(select(*LISTED).where(f.c.assignment_id == row.id, f.c.sha256 == digest))).one()
    else:
        await _count_against_quota(session, unit=row.unit_code, size=len(upload.data), quota=quota)
    return stored


async def _count_against_quota(session: AsyncSession, *, unit: str, size: int, quota: int) -> None:
    """Add `size` to the unit's evidence bytes, unless that passes `quota`: 413, and the caller's
    transaction (with the file just inserted) is rolled back. One statement that takes the row's
    lock and checks the sum under it: of two uploads at once, the second waits and sees the first."""
    u = m.evidence_usage
    added = insert(u).values(unit_code=unit, bytes=size)
    added = added.on_conflict_do_update(
        index_elements=[u.c.unit_code],
        set_={"bytes": u.c.bytes + added.excluded.bytes},
        where=u.c.bytes + added.excluded.bytes <= quota,
    )
    # a file larger than the whole quota is refused without counting (the INSERT of a unit's first
    # file has no WHERE to stop it)
    used = None if size > quota else (await session.execute(added.returning(u.c.bytes))).scalar()
    if used is None:
        before = (await session.execute(select(u.c.bytes).where(u.c.unit_code == unit))).scalar() or 0
        raise InputError(
            [
                FieldProblem(
                    "file",
                    f"vượt hạn mức minh chứng của đơn vị {unit}: đã dùng {megabytes(before)} trên "
                    f"{megabytes(quota)} (CCHC_EVIDENCE_QUOTA_BYTES_PER_UNIT), tệp này {megabytes(size)}",
                )
            ],
            status=413,
        )


FILES = pages.Key("evidence", (datetime, uuid.UUID))  # oldest first


async def list_(session: AsyncSession, *, caller: Caller, assignment_id: uuid.UUID, page: pages.Ask) -> pages.Page:
    """A page of the files uploaded for an assignment, oldest first (without their bytes); 404
    for an assignment outside the caller's subtree."""
    await readable_assignment(session, assignment_id, caller=caller)
    f = m.evidence_files.c
    query = select(*LISTED, f.uploaded_at).where(f.assignment_id == assignment_id)
    if (after := page.where(f.uploaded_at, f.id)) is not None:
        query = query.where(after)
    rows = (await session.execute(query.order_by(f.uploaded_at, f.id).limit(page.limit + 1))).all()
    return page.cut(rows, lambda r: (r.uploaded_at, r.id))


async def get_or_raise(session: AsyncSession, *, caller: Caller, file_id: uuid.UUID) -> Any:
    """One file with its bytes; 404 if its assignment is outside the caller's subtree."""
    a = m.assignments
    row = (
        await session.execute(
            select(m.evidence_files, a.c.unit_path)
            .join(a, a.c.id == m.evidence_files.c.assignment_id)
            .where(m.evidence_files.c.id == file_id)
        )
    ).first()
    if row is None or not caller.covers(row.unit_path):
        raise NotFound(f"không có tệp minh chứng {file_id}")
    return row


def download_headers(row: Any) -> dict[str, str]:
    """The file under its own name (RFC 6266, UTF-8), never sniffed into something else."""
    ascii_name = row.name.encode("ascii", "ignore").decode().replace('"', "") or "minh-chung"
    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.name)}",
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"{row.sha256}"',
    }


async def files_of(session: AsyncSession, assignment_id: uuid.UUID, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The named evidence files that belong to this assignment (others are simply absent)."""
    if not ids:
        return {}
    f = m.evidence_files.c
    rows = (await session.execute(select(*LISTED).where(f.assignment_id == assignment_id, f.id.in_(ids)))).all()
    return {r.id: r for r in rows}
