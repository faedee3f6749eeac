"""POST /api/plans/parse against hostile documents: a .docx zip bomb refused (413, `file`) before
anything opens it; documents that cost the old importer minutes (a Word table with a cell merged
down three thousand rows: a RecursionError; a table laid out with spaces under thousands of
columns: quadratic) read within the default time limit (CCHC_IMPORT_TIME_LIMIT_SECONDS, 20 s);
and past the limit, the request refused (503, naming the setting) with nothing stored."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from tests.integration.conftest import System
from tests.unit.test_importer_linear import HEAD, HEADERS, merged_down

pytestmark = pytest.mark.integration
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def parse(system: System, name: str, content: bytes, mime: str = DOCX, **fields: str) -> httpx.Response:
    return await system.post("/api/plans/parse", files={"file": (name, content, mime)}, data=fields)


def docx_bomb() -> bytes:
    """A .docx of ~200 KB whose document part unpacks to 200 MB of spaces."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as part:
            for _ in range(200):
                part.write(b" " * (1024 * 1024))
    return out.getvalue()


def wide_plan(rows: int, columns: int) -> bytes:
    """A `pdftotext -layout` plan: a header of `columns` columns, 10 characters each, and rows as wide."""

    def laid(cells: list[str]) -> str:
        return "".join(cell.ljust(10) for cell in cells)

    extra = [f"c{i}" for i in range(columns)]
    lines = [laid(HEADERS + extra)]
    lines += [
        laid([str(n), "Tuyên truyền", "Phòng VHXH", "Các thôn", "Quý II/2026", "Tin, bài", *extra])
        for n in range(1, rows + 1)
    ]
    return (HEAD + "\n".join(lines)).encode()


async def plan_count(system: System) -> int:
    return len((await system.get("/api/plans")).json()["items"])


async def test_a_docx_zip_bomb_is_refused_naming_the_file_before_it_is_opened(system: System) -> None:
    bomb = docx_bomb()
    assert len(bomb) < 1024 * 1024
    before = await plan_count(system)
    response = await parse(system, "ke-hoach.docx", bomb, save="true", issuer="52")
    assert response.status_code == 413, response.text
    problem = response.json()["detail"][0]
    assert problem["field"] == "file" and "giải nén ra 200,0 MB, tối đa 100,0 MB" in problem["msg"]
    assert await plan_count(system) == before


async def test_documents_that_took_the_old_importer_minutes_are_read_within_the_default_limit(system: System) -> None:
    assert system.services["plans"].settings.import_time_limit_seconds == 20.0
    merged = await parse(system, "ke-hoach.docx", merged_down(3_000)[0])
    assert merged.status_code == 200, merged.text
    tasks = [t for t in merged.json()["draft"]["tasks"] if not t["group"]]
    assert len(tasks) == 3_000 and {tuple(t["coordinating"]) for t in tasks} == {("Các thôn",)}

    wide = await parse(system, "ke-hoach.txt", wide_plan(rows=12, columns=8_000), mime="text/plain")
    assert wide.status_code == 200, wide.text
    assert [t["ref"] for t in wide.json()["draft"]["tasks"]] == [str(n) for n in range(1, 13)]


async def test_reading_past_the_time_limit_is_refused_naming_the_setting_and_nothing_is_stored(system: System) -> None:
    plans = system.services["plans"].settings
    before = await plan_count(system)
    plans.import_time_limit_seconds = 0.001
    try:
        response = await parse(system, "ke-hoach.txt", wide_plan(rows=5, columns=10), mime="text/plain", save="true")
    finally:
        plans.import_time_limit_seconds = 20.0
    assert response.status_code == 503, response.text
    problem = response.json()["detail"][0]
    assert problem["field"] == "file" and "CCHC_IMPORT_TIME_LIMIT_SECONDS" in problem["msg"]
    assert await plan_count(system) == before
