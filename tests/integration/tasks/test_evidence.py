"""Evidence files: uploaded for one assignment by whoever may report on it, checked by size and
by the type their content shows, stored once, referenced from a progress report and downloaded
as they were sent — by whoever may read the assignment."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from urllib.parse import quote

import httpx
import pytest

from shared.access import Role
from tests.integration.conftest import Identity, System, officer
from tests.integration.plans_data import QUARTERLY_PLAN
from tests.integration.steps import q1_assignment

pytestmark = pytest.mark.integration

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00" + bytes(40)


def docx_bytes() -> bytes:
    """A Word file as Word writes it: a ZIP whose first entries do not name the document type."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        # stored, not deflated: the document part starts past the 8 KiB that signature sniffing reads
        z.writestr("[Content_Types].xml", "<Types/>" + " " * 9000, compress_type=zipfile.ZIP_STORED)
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr("word/document.xml", "<w:document>Hội nghị tuyên truyền CCHC</w:document>")
    return out.getvalue()


async def issued_assignment(system: System, unit: str = "21787") -> dict:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=QUARTERLY_PLAN)).json()["id"]
    await system.post(f"/api/plans/{plan_id}/issue")
    return await q1_assignment(system, unit)


async def path_of(system: System, code: str) -> str:
    return str((await system.get(f"/api/units/{code}")).json()["path"])


async def upload(
    system: System, assignment_id: str, filename: str, data: bytes, as_: Identity | None = None, **fields: str
) -> httpx.Response:
    acting = system.as_(as_) if as_ is not None else system
    return await acting.post(
        f"/api/assignments/{assignment_id}/evidence",
        files={"file": (filename, data, "application/octet-stream")},
        data=fields,
    )


async def test_files_are_typed_by_content_stored_once_attached_to_a_report_and_downloaded(system: System) -> None:
    assignment = await issued_assignment(system)
    aid = assignment["id"]

    lan = Identity(await path_of(system, "21787"), (Role.officer,), name="Trần Thị Lan", subject="user:lan")
    # `unit` agrees with the credential (accepted for compatibility); `name` is not what is kept
    pdf = await upload(system, aid, "Báo cáo quý I.pdf", PDF, as_=lan, unit="21787", name="Ai đó")
    assert pdf.status_code == 201, pdf.text
    body = pdf.json()
    assert (body["content_type"], body["size"], body["sha256"]) == (
        "application/pdf",
        len(PDF),
        hashlib.sha256(PDF).hexdigest(),
    )
    assert body["name"] == "Báo cáo quý I.pdf"
    assert body["uploader"] == {"subject": "user:lan", "unit": lan.unit_path, "name": "Trần Thị Lan"}
    again = await upload(system, aid, "ban-sao.pdf", PDF)
    assert again.status_code == 201 and again.json()["id"] == body["id"]  # same content: same evidence

    word = await upload(system, aid, "C:\\Users\\vhxh\\Bien ban hoi nghi.docx", docx_bytes())
    photo = await upload(system, aid, "pano.png", PNG)
    assert word.status_code == 201 and photo.status_code == 201, (word.text, photo.text)
    assert word.json()["content_type"].endswith("wordprocessingml.document")
    assert word.json()["name"] == "Bien ban hoi nghi.docx"  # no client path kept
    assert photo.json()["content_type"] == "image/png"
    listed = (await system.get(f"/api/assignments/{aid}/evidence")).json()
    # oldest first, then by id: the three were uploaded at the same instant of the test's clock
    names = {f["name"] for f in listed["items"]}
    assert len(listed["items"]) == 3 and names == {"Báo cáo quý I.pdf", "Bien ban hoi nghi.docx", "pano.png"}
    assert [f["id"] for f in listed["items"]] == sorted(f["id"] for f in listed["items"])

    report = await system.post(
        f"/api/assignments/{aid}/progress",
        json={
            "period": "2026-Q1",
            "status": "done",
            "outputs": {"conference": 1, "participants": 120},
            "evidence": [
                {"kind": "file", "file_id": body["id"], "title": "Báo cáo kết quả"},
                {"kind": "file", "file_id": word.json()["id"]},
                {"kind": "document", "number": "15/BC-UBND"},
            ],
        },
    )
    assert report.status_code == 201, report.text
    history = (await system.get(f"/api/assignments/{aid}")).json()["history"]
    files = history[-1]["evidence"][:2]
    assert files[0] == {
        "kind": "file",
        "file_id": body["id"],
        "title": "Báo cáo kết quả",
        "name": "Báo cáo quý I.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "url": f"/api/evidence/{body['id']}",
    }
    assert files[1]["name"] == "Bien ban hoi nghi.docx"

    download = await system.as_(lan).get(files[0]["url"])
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert f"filename*=UTF-8''{quote('Báo cáo quý I.pdf')}" in download.headers["content-disposition"]
    assert download.headers["x-content-type-options"] == "nosniff"


async def test_files_that_cannot_be_evidence_are_refused_by_field_and_nothing_is_kept(system: System) -> None:
    assignment = await issued_assignment(system)
    other = await q1_assignment(system, "21583")
    aid, url = assignment["id"], f"/api/assignments/{assignment['id']}/evidence"

    cases = [
        ("a script named .pdf", await upload(system, aid, "bao-cao.pdf", b"#!/bin/sh\nrm -rf /\n"), 415),
        ("a zip archive", await upload(system, aid, "anh.zip", _zip()), 415),
        ("an empty file", await upload(system, aid, "rong.pdf", b""), 422),
        ("no file field", await system.post(url, data={"unit": "21787"}), 422),
        ("not multipart", await system.post(url, json={"file": "x"}), 422),
    ]
    for what, response, status in cases:
        assert response.status_code == status, (what, response.text)
        assert [p["field"] for p in response.json()["detail"]] == ["file"], (what, response.json())
    assert "chỉ nhận" in cases[0][1].json()["message"] and "application/zip" in cases[1][1].json()["message"]

    system.services["tasks"].settings.evidence_max_bytes = 1024
    try:
        big = await upload(system, aid, "lon.pdf", PDF + b"%" * 2000)
        assert big.status_code == 413 and big.json()["detail"][0]["field"] == "file", big.text
        assert "tối đa 0,0 MB" in big.json()["message"]
    finally:
        system.services["tasks"].settings.evidence_max_bytes = 20 * 1024 * 1024

    # Who uploads is the credential. Another commune's officer does not see this assignment (404),
    # naming this commune or not; this commune's officer cannot upload as another unit (403); the
    # province's auditor reads but does not upload (403).
    sibling = officer(await path_of(system, "21583"))
    for fields in ({}, {"unit": "21787"}):
        theirs = await upload(system, aid, "bao-cao.pdf", PDF, as_=sibling, **fields)
        assert theirs.status_code == 404, (fields, theirs.text)
    own = officer(await path_of(system, "21787"))
    posing = await upload(system, aid, "bao-cao.pdf", PDF, as_=own, unit="21583")
    assert posing.status_code == 403 and "không báo cáo thay" in posing.json()["message"], posing.text
    auditor = await upload(system, aid, "bao-cao.pdf", PDF, as_=Identity("52", (Role.auditor,)))
    assert auditor.status_code == 403 and "(report)" in auditor.json()["message"], auditor.text
    missing = await upload(system, str(uuid.uuid4()), "bao-cao.pdf", PDF)
    assert missing.status_code == 404
    assert (await system.get(f"/api/assignments/{aid}/evidence")).json()["count"] == 0

    # A file of another assignment cannot be cited, and the refused report leaves no trace.
    theirs = (await upload(system, other["id"], "bao-cao.pdf", PDF)).json()
    # nor read by this commune: the other commune's files and their list are as if absent
    assert (await system.as_(own).get(f"/api/evidence/{theirs['id']}")).status_code == 404
    assert (await system.as_(own).get(f"/api/assignments/{other['id']}/evidence")).status_code == 404
    assert (await system.as_(sibling).get(f"/api/evidence/{theirs['id']}")).status_code == 200
    cited = await system.post(
        f"/api/assignments/{aid}/progress",
        json={"period": "2026-Q1", "status": "done", "evidence": [{"kind": "file", "file_id": theirs["id"]}]},
    )
    assert cited.status_code == 422 and cited.json()["detail"][0]["field"] == "evidence[0].file_id", cited.text
    unnamed = await system.post(
        f"/api/assignments/{aid}/progress", json={"period": "2026-Q1", "status": "done", "evidence": [{"kind": "file"}]}
    )
    assert unnamed.status_code == 422 and unnamed.json()["detail"][0]["field"].startswith("evidence[0]")
    assert (await system.get(f"/api/assignments/{aid}")).json()["history"] == []
    assert (await system.get(f"/api/evidence/{uuid.uuid4()}")).status_code == 404


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("anh/1.txt", "không phải tài liệu văn phòng")
    return out.getvalue()


async def test_the_list_of_files_says_the_size_and_types_an_upload_may_have(system: System) -> None:
    assignment = await issued_assignment(system)
    listed = await system.get(f"/api/assignments/{assignment['id']}/evidence")
    assert listed.status_code == 200, listed.text
    limits = listed.json()["limits"]
    assert limits["max_bytes"] == 20 * 1024 * 1024 and limits["max_size"] == "20,0 MB"
    assert "application/pdf" in limits["types"] and "ảnh PNG" in limits["type_labels"]
