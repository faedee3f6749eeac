"""POST /api/plans/parse against hostile documents: a .docx zip bomb refused (413, `file`) before
anything opens it; documents that cost the old importer minutes (a Word table with a cell merged
down three thousand rows: a RecursionError; a table laid out with spaces under thousands of
columns: quadratic) read within the default time limit (CCHC_IMPORT_TIME_LIMIT_SECONDS, 20 s);
and past the limit, the request refused (503, naming the setting) with nothing stored."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.hostile import docx_bomb, laid_out_plan, merged_down
from tests.integration.conftest import System

pytestmark = pytest.mark.integration
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def parse(system: System, name: str, content: bytes, mime: str = DOCX, **fields: str) -> httpx.Response:
    return await system.post("/api/plans/parse", files={"file": (name, content, mime)}, data=fields)


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


async def test_documents_that_took_the_old_importer_minutes_are_read_whole(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    # How fast is a benchmark's question (bench/importer_speed.py: well within the default 20 s);
    # here the reading is checked, with room for a loaded machine.
    monkeypatch.setattr(system.services["plans"].settings, "import_time_limit_seconds", 600.0)
    merged = await parse(system, "ke-hoach.docx", merged_down(3_000)[0])
    assert merged.status_code == 200, merged.text
    tasks = [t for t in merged.json()["draft"]["tasks"] if not t["group"]]
    assert len(tasks) == 3_000 and {tuple(t["coordinating"]) for t in tasks} == {("Các thôn",)}

    wide = await parse(system, "ke-hoach.txt", laid_out_plan(12, 8_000, width=10), mime="text/plain")
    assert wide.status_code == 200, wide.text
    assert [t["ref"] for t in wide.json()["draft"]["tasks"]] == [str(n) for n in range(1, 13)]


async def test_reading_past_the_time_limit_is_refused_naming_the_setting_and_nothing_is_stored(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await plan_count(system)
    monkeypatch.setattr(system.services["plans"].settings, "import_time_limit_seconds", 0.001)
    response = await parse(system, "ke-hoach.txt", laid_out_plan(5, 10, width=10), mime="text/plain", save="true")
    assert response.status_code == 503, response.text
    problem = response.json()["detail"][0]
    assert problem["field"] == "file" and "CCHC_IMPORT_TIME_LIMIT_SECONDS" in problem["msg"]
    assert await plan_count(system) == before
