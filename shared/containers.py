"""Zip containers uploaded to the system (a plan's .docx, .docx/.xlsx/.pptx evidence) checked
before anything opens them: how many members, how many bytes they declare unpacked, how much each
is compressed, and that no member unpacks to more than it declares. A 423 KB .docx declaring
gigabytes (a "zip bomb") is refused here instead of being read whole by python-docx.

Reading the central directory costs time in proportion to the file (bounded by the upload
limit); members are then streamed in chunks, never held whole, and at most the declared total is
unpacked."""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from typing import Protocol

from shared.errors import FieldProblem, InputError
from shared.uploads import megabytes

ZIP_MAGIC = b"PK\x03\x04"
RATIO_FROM = 1024 * 1024  # a small member may compress well (a page of spaces); a large one may not
_CHUNK = 64 * 1024


class _ZipSettings(Protocol):
    zip_max_members: int
    zip_max_uncompressed_bytes: int
    zip_max_ratio: float


@dataclass(frozen=True)
class ZipLimits:
    max_members: int = 5_000
    max_uncompressed_bytes: int = 100 * 1024 * 1024
    max_ratio: float = 100.0

    @classmethod
    def from_settings(cls, settings: _ZipSettings) -> ZipLimits:
        return cls(settings.zip_max_members, settings.zip_max_uncompressed_bytes, settings.zip_max_ratio)


def is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def _refused(message: str, status: int = 413) -> InputError:
    return InputError([FieldProblem("file", message)], status=status)


def check_zip(data: bytes, limits: ZipLimits) -> None:
    """Refuse (InputError naming `file`) a zip container past `limits`: 413 for too many members,
    too many bytes unpacked or a member compressed past the ratio; 422 for a member that unpacks
    to more than it declares, or a container that cannot be read. Not a zip: nothing to check."""
    if not is_zip(data):
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise _refused(f"tệp nén (.docx, .xlsx, .pptx) hỏng, không đọc được: {exc}", 422) from None
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise _refused(
                f"tệp nén có {len(members):,} thành phần, tối đa {limits.max_members:,} (CCHC_ZIP_MAX_MEMBERS)"
            )
        declared = sum(member.file_size for member in members)
        if declared > limits.max_uncompressed_bytes:
            raise _refused(
                f"tệp nén giải nén ra {megabytes(declared)}, tối đa {megabytes(limits.max_uncompressed_bytes)} "
                "(CCHC_ZIP_MAX_UNCOMPRESSED_BYTES)"
            )
        for member in members:
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size >= RATIO_FROM and ratio > limits.max_ratio:
                raise _refused(
                    f"thành phần {member.filename!r} của tệp nén bị nén {ratio:,.0f} lần, tối đa "
                    f"{limits.max_ratio:,.0f} lần (CCHC_ZIP_MAX_RATIO): không nhận tệp nén bất thường"
                )
        whole = declared / max(len(data), 1)  # many small members, each under RATIO_FROM, add up too
        if declared >= RATIO_FROM and whole > limits.max_ratio:
            raise _refused(
                f"tệp nén giải nén ra gấp {whole:,.0f} lần dung lượng của nó, tối đa {limits.max_ratio:,.0f} lần "
                "(CCHC_ZIP_MAX_RATIO): không nhận tệp nén bất thường"
            )
        for member in members:
            _unpacks_as_declared(archive, member)


def _unpacks_as_declared(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Stream the member in chunks: more bytes than declared, or a checksum that does not match
    (zipfile stops at the declared size, then checks), is a forged container."""
    unpacked = 0
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                unpacked += len(chunk)
                if unpacked > member.file_size:
                    break
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise _refused(f"thành phần {member.filename!r} của tệp nén hỏng: {exc}", 422) from None
    if unpacked != member.file_size:
        raise _refused(
            f"thành phần {member.filename!r} của tệp nén giải nén ra {unpacked:,} byte, khác với "
            f"{member.file_size:,} byte đã khai",
            422,
        )
