"""Zip containers checked before anything opens them (shared/containers.py): zips made here with
zipfile — a bomb (a member of zeros compressed a thousandfold), too many members, more bytes
declared unpacked than allowed, a member that unpacks to more than its header says — refused
naming `file`; an ordinary .docx passes."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from docx import Document

from shared.containers import ZipLimits, check_zip
from shared.errors import InputError

pytestmark = pytest.mark.unit
LIMITS = ZipLimits(max_members=50, max_uncompressed_bytes=8 * 1024 * 1024, max_ratio=100)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def refusal(data: bytes, limits: ZipLimits = LIMITS) -> InputError:
    with pytest.raises(InputError) as caught:
        check_zip(data, limits)
    assert [p.field for p in caught.value.problems] == ["file"]
    return caught.value


def test_a_word_document_as_officials_write_it_passes() -> None:
    document = Document()
    document.add_paragraph("Kế hoạch tuyên truyền cải cách hành chính năm 2026")
    buffer = io.BytesIO()
    document.save(buffer)
    check_zip(buffer.getvalue(), LIMITS)


def test_text_that_is_no_zip_is_not_checked() -> None:
    check_zip("Kế hoạch".encode(), LIMITS)


def test_a_docx_bomb_is_refused_by_what_it_declares_before_anything_is_unpacked() -> None:
    bomb = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\0" * (20 * 1024 * 1024)})
    assert len(bomb) < 100 * 1024
    error = refusal(bomb)
    assert error.status == 413 and "giải nén ra 20,0 MB, tối đa 8,0 MB" in error.problems[0].message


def test_a_member_compressed_past_the_ratio_is_refused_even_under_the_total() -> None:
    error = refusal(zipped({"word/document.xml": b" " * (4 * 1024 * 1024)}))
    assert (
        error.status == 413 and "bị nén" in error.problems[0].message and "tối đa 100 lần" in error.problems[0].message
    )


def test_too_many_members_are_refused() -> None:
    error = refusal(zipped({f"word/media/image{n}.png": b"x" for n in range(51)}))
    assert error.status == 413 and "51 thành phần, tối đa 50" in error.problems[0].message


def test_a_member_that_unpacks_to_more_than_its_header_declares_is_refused() -> None:
    """The central directory says 1,000 bytes; the data unpacks to 100,000: forged."""
    data = bytearray(zipped({"word/document.xml": bytes(range(256)) * 400}))
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = struct.pack("<I", 1_000)  # uncompressed size
    error = refusal(bytes(data))
    assert error.status == 422 and "word/document.xml" in error.problems[0].message


def test_a_broken_zip_is_refused_as_unreadable() -> None:
    error = refusal(b"PK\x03\x04" + b"\0" * 100)
    assert error.status == 422 and "hỏng" in error.problems[0].message


def test_many_small_members_that_add_up_to_a_bomb_are_refused_by_the_whole_ratio() -> None:
    """Each member under the 1 MB the per-member ratio starts at, the archive a hundredfold."""
    members = {f"word/media/part{n}.xml": b"\0" * (1024 * 1024 - 1) for n in range(7)}
    small_bomb = zipped(members)
    assert all(len(data) < 1024 * 1024 for data in members.values()) and len(small_bomb) < 80 * 1024
    error = refusal(small_bomb)
    assert error.status == 413 and "lần dung lượng của nó" in error.problems[0].message
