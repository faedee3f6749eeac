"""PDFs and scans through POST /api/plans/parse on real servers: a PDF with a text layer reads as
on the command line; a scan gets the OCR time limit, not the 20 s of other documents, and is
read by Tesseract in the worker process; an encrypted PDF, too many pages and OCR past its
limit are refused by field, naming the setting."""

from __future__ import annotations

import io
from typing import Any

import pytest
from reportlab.pdfgen import canvas

from services.plans.importer import parse_plan
from tests.integration.conftest import System
from tests.unit.importer_gold import document
from tests.unit.plan_pdfs import page_images, pdf_of, png, scanned

pytestmark = pytest.mark.integration


async def upload(system: System, name: str, content: bytes, mime: str) -> Any:
    return await system.post("/api/plans/parse", files={"file": (name, content, mime)})


async def test_a_pdf_plan_reads_the_same_through_the_api_as_on_the_command_line(system: System) -> None:
    pdf = pdf_of(document("district_columns_reordered.docx"))
    response = await upload(system, "ke-hoach.pdf", pdf, "application/pdf")
    assert response.status_code == 200, response.text
    offline = parse_plan(pdf, "ke-hoach.pdf").as_json()
    assert response.json()["draft"] == offline | {"issuer": {"name": offline["issuer"]["name"], "code": None}}
    assert len([t for t in offline["tasks"] if not t["group"]]) == 8


async def test_a_scan_is_read_by_ocr_within_its_own_limit_and_refused_past_it(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    appendix = page_images(pdf_of(document("commune_table.docx")))[-1]
    image = png(scanned(appendix, angle=0.8))
    settings = system.services["plans"].settings
    monkeypatch.setattr(settings, "import_time_limit_seconds", 0.001)  # other documents' limit: not a scan's
    response = await upload(system, "phu-luc.png", image, "image/png")
    assert response.status_code == 200, response.text
    refs = [task["ref"] for task in response.json()["draft"]["tasks"]]
    assert refs == ["2", "3", "4", "4.1", "4.2", "4.3", "5", "6", "7"]  # the appendix's second page

    monkeypatch.setattr(settings, "import_ocr_time_limit_seconds", 0.5)
    slow = await upload(system, "phu-luc.png", image, "image/png")
    assert slow.status_code == 503, slow.text
    assert "CCHC_IMPORT_OCR_TIME_LIMIT_SECONDS" in slow.json()["detail"][0]["msg"]


async def test_a_locked_or_too_long_pdf_is_refused_naming_the_reason(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = io.BytesIO()
    locked = canvas.Canvas(buffer, encrypt="mat-khau")
    locked.drawString(72, 720, "KE HOACH nam 2026")
    locked.save()
    refused = await upload(system, "ke-hoach.pdf", buffer.getvalue(), "application/pdf")
    assert refused.status_code == 415, refused.text
    problem = refused.json()["detail"][0]
    assert problem["field"] == "file" and "tệp PDF được đặt mật khẩu" in problem["msg"]

    monkeypatch.setattr(system.services["plans"].settings, "import_max_pages", 2)
    long = await upload(system, "ke-hoach.pdf", pdf_of(document("commune_table.docx")), "application/pdf")
    assert long.status_code == 413, long.text
    assert "quá giới hạn 2 trang" in long.json()["detail"][0]["msg"]
    assert "CCHC_IMPORT_MAX_PAGES" in long.json()["detail"][0]["msg"]
