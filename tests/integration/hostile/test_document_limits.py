"""A report's DOCX and XLSX are made in a worker process (shared/bounded.py), on real servers: they
still download and open, and past CCHC_DOCUMENT_TIME_LIMIT_SECONDS the worker is killed and the
request refused (503, naming the setting)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from docx import Document
from openpyxl import load_workbook

from shared.settings import Settings
from tests.integration.conftest import DatabaseRoles, System, running

pytestmark = pytest.mark.integration


async def province_known_to_reports(system: System) -> None:
    """Gia Lai loaded by the plans service and its units arrived in the reports' read model."""
    loaded = await system.post("/api/units/load", json={"provinces": ["52"]})
    assert loaded.status_code == 200, loaded.text[:300]

    async def known() -> bool:  # the province and every one of its 135 communes
        children = await system.get("/api/reports/children", params={"unit": "52", "period": "2026-Q1"})
        return children.status_code == 200 and children.json()["count"] == 135

    await system.eventually(known)


async def test_the_documents_made_in_a_worker_process_download_and_open(system: System) -> None:
    assert system.services["reports"].settings.document_time_limit_seconds == 60.0
    await province_known_to_reports(system)

    docx = await system.get("/api/reports/52/2026-Q1.docx", params={"number": "15/BC-UBND"})
    assert docx.status_code == 200, docx.text[:300]
    header = [cell.text for row in Document(io.BytesIO(docx.content)).tables[0].rows for cell in row.cells]
    assert header[0] == "ỦY BAN NHÂN DÂN TỈNH GIA LAI\n" and header[2] == "Số: 15/BC-UBND"

    xlsx = await system.get("/api/reports/52/2026-Q1.xlsx")
    assert xlsx.status_code == 200, xlsx.text[:300]
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["Nhiệm vụ", "Đơn vị", "Chậm báo cáo", "Ý kiến"]
    assert len(list(book["Đơn vị"].iter_rows(min_row=3))) == 135 + 1  # each commune, then the total


@pytest.fixture
async def slow_documents(settings: Settings, database_roles: DatabaseRoles) -> AsyncIterator[System]:
    """Plans and reports, the reports' documents limited to a millisecond."""
    async with running(settings, database_roles, "plans", "reports", document_time_limit_seconds=0.001) as system:
        yield system


async def test_a_document_past_the_time_limit_is_refused_naming_the_setting(slow_documents: System) -> None:
    await province_known_to_reports(slow_documents)
    for suffix in (".docx", ".xlsx"):
        refused = await slow_documents.get(f"/api/reports/52/2026-Q1{suffix}")
        assert refused.status_code == 503, refused.text[:300]
        problem = refused.json()["detail"][0]
        assert problem["field"] == "report"
        assert problem["msg"].startswith("Tạo tệp báo cáo cần quá 0,001 giây")
        assert "CCHC_DOCUMENT_TIME_LIMIT_SECONDS" in problem["msg"]
    # the service goes on: the JSON report is still answered
    assert (await slow_documents.get("/api/reports/52/2026-Q1")).status_code == 200
