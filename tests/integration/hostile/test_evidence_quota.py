"""Evidence against hostile uploads: a unit's evidence bytes are held to its quota
(CCHC_EVIDENCE_QUOTA_BYTES_PER_UNIT) — past it 413 naming `file` and the quota, nothing stored,
and of two uploads at once that only one fits, exactly one is stored; an Office zip bomb is
refused before it is opened."""

from __future__ import annotations

import asyncio

import pytest

from tests.fixtures.hostile import docx_bomb
from tests.integration.conftest import System
from tests.integration.tasks.test_evidence import PDF, issued_assignment, upload

pytestmark = pytest.mark.integration


def pdf_of(size: int, mark: str) -> bytes:
    """A PDF of about `size` bytes, its content told apart by `mark`."""
    return PDF + f"%{mark}\n".encode() + b"%" + b"x" * max(size - len(PDF) - 10, 0) + b"\n"


async def files_of(system: System, assignment_id: str) -> list[str]:
    return [f["name"] for f in (await system.get(f"/api/assignments/{assignment_id}/evidence")).json()["items"]]


async def test_uploads_past_the_units_quota_are_refused_and_two_at_once_cannot_both_fit(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    aid = (await issued_assignment(system))["id"]
    monkeypatch.setattr(system.services["tasks"].settings, "evidence_quota_bytes_per_unit", 5_000)
    first = await upload(system, aid, "bao-cao.pdf", pdf_of(2_000, "a"))
    assert first.status_code == 201, first.text
    again = await upload(system, aid, "ban-sao.pdf", pdf_of(2_000, "a"))  # the same content: no more bytes
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]

    over = await upload(system, aid, "qua-lon.pdf", pdf_of(3_500, "b"))
    assert over.status_code == 413, over.text
    problem = over.json()["detail"][0]
    assert problem["field"] == "file" and "hạn mức minh chứng" in problem["msg"]
    assert "CCHC_EVIDENCE_QUOTA_BYTES_PER_UNIT" in problem["msg"]
    assert await files_of(system, aid) == ["bao-cao.pdf"]

    # 3,000 bytes left: two uploads of 2,000 at once, only one fits
    both = await asyncio.gather(
        upload(system, aid, "mot.pdf", pdf_of(2_000, "c")), upload(system, aid, "hai.pdf", pdf_of(2_000, "d"))
    )
    assert sorted(r.status_code for r in both) == [201, 413], [r.text for r in both]
    assert len(await files_of(system, aid)) == 2


async def test_an_office_zip_bomb_as_evidence_is_refused_before_it_is_opened(system: System) -> None:
    aid = (await issued_assignment(system))["id"]
    response = await upload(system, aid, "bien-ban.docx", docx_bomb())
    assert response.status_code == 413, response.text
    assert response.json()["detail"][0]["field"] == "file"
    assert await files_of(system, aid) == []
