"""Importing plans through the API on real servers: a real plan (../shared/seeds) uploaded, read
with the commune's own bodies from the directory, saved as a draft and issued, its tasks then
assigned by the tasks service; a Word fixture read the same as on the command line; what cannot
be read or saved refused by field, with nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from services.plans.importer import parse_plan
from tests.integration.conftest import System
from tests.unit.importer_gold import FIXTURES, document

pytestmark = pytest.mark.integration
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def upload(system: System, name: str, content: bytes, **fields: str) -> Any:
    mime = DOCX if name.endswith(".docx") else "text/plain"
    return await system.post("/api/plans/parse", files={"file": (name, content, mime)}, data=fields)


async def plans_count(system: System) -> int:
    return int((await system.get("/api/plans", params={"issuer": "22003"})).json()["count"])


async def test_a_real_plan_uploaded_is_saved_as_a_draft_issued_and_assigned(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    # the former Xã Canh Vinh (L22003) has the same name: the 2026 plan is today's commune's
    legacy = await system.post("/api/units/load", json={"source": "vietnamadminunits", "provinces": ["52"]})
    assert legacy.status_code == 200, legacy.text
    bodies = (await system.post("/api/units/22003/bodies/standard")).json()["created"]
    codes = {body["name"]: body["code"] for body in bodies}
    seed = document("seed:001")

    read = await upload(system, seed.name, seed.read_bytes())
    assert read.status_code == 200, read.text
    draft = read.json()["draft"]
    assert read.json()["plan"] is None and await plans_count(system) == 0  # reading stores nothing
    assert draft["issuer"] == {"name": "Ủy ban nhân dân xã Canh Vinh", "code": "22003"}
    first = draft["tasks"][0]
    assert [u["code"] for u in first["lead_units"]] == [
        codes["Phòng Văn hóa - Xã hội"],
        codes["Trung tâm Cung ứng dịch vụ sự nghiệp công"],
    ]

    saved = await upload(system, seed.name, seed.read_bytes(), save="true")
    assert saved.status_code == 201, saved.text
    plan = saved.json()["plan"]
    assert plan["status"] == "draft" and plan["issuer"] == "22003" and plan["period"] == "2026"
    assert [t["ref"] for t in plan["tasks"]] == [t["ref"] for t in draft["tasks"]]
    assert plan["parent"]["number"] == "135/KH-UBND"
    assert plan["signer"] == {"name": "Vũ Trọng Tuyên", "title": "Phó Chủ tịch"} and len(plan["recipients"]) == 6
    assert [d["body"] for d in plan["duties"]][1] == "Phòng Văn hóa - Xã hội"
    assert any("không phải một đơn vị cụ thể" in note for note in saved.json()["left_out"])  # task 6's second "lead"

    issued = await system.post(f"/api/plans/{plan['id']}/issue")
    assert issued.status_code == 200, issued.text

    async def assigned() -> list[dict[str, Any]]:
        response = await system.get(
            "/api/assignments", params={"unit": codes["Văn phòng HĐND và UBND"], "period": "2026-Q1"}
        )
        return response.json()["items"]

    items = await system.eventually(assigned)
    assert {item["task_ref"] for item in items} == {"4.1"}  # its one task, quarterly (the merged cell)


async def test_a_word_plan_reads_the_same_through_the_api_as_on_the_command_line(system: System) -> None:
    path = FIXTURES / "district_columns_reordered.docx"
    response = await upload(system, path.name, path.read_bytes())
    assert response.status_code == 200, response.text
    offline = parse_plan(path.read_bytes(), path.name).as_json()
    assert response.json()["draft"] == offline | {"issuer": {"name": offline["issuer"]["name"], "code": None}}
    assert response.json()["file"] == path.name


async def test_the_text_read_is_answered_line_by_line_with_the_numbers_warnings_point_at(system: System) -> None:
    seed = document("seed:001")
    response = await upload(system, seed.name, seed.read_bytes())
    assert response.status_code == 200, response.text
    lines = {line["no"]: line["text"] for line in response.json()["lines"]}
    warned = [w["line"] for w in response.json()["draft"]["warnings"] if w["line"] is not None]
    assert warned and all(no in lines for no in warned)
    first_task = response.json()["draft"]["tasks"][0]
    assert first_task["title"][:20] in lines[first_task["line"]]


async def test_the_upload_limits_are_said_before_anything_is_uploaded(system: System) -> None:
    response = await system.get("/api/plans/parse")
    assert response.status_code == 200, response.text
    assert response.json()["types"] == [".docx", ".txt", ".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"]
    assert response.json()["max_size"] == "10,0 MB"
    assert response.json()["max_bytes"] == 10 * 1024 * 1024


async def test_what_cannot_be_read_or_saved_is_refused_by_field_and_nothing_is_stored(system: System) -> None:
    await system.post("/api/units/load", json={"provinces": ["52"]})
    no_file = await system.post("/api/plans/parse", data={"save": "true"}, files={"other": ("a", b"x")})
    assert no_file.status_code == 422 and no_file.json()["detail"][0]["field"] == "file"
    not_multipart = await system.post("/api/plans/parse", json={"file": "x"})
    assert not_multipart.status_code == 422 and not_multipart.json()["detail"][0]["field"] == "file"
    two = await system.post("/api/plans/parse", files=[("file", ("a.txt", b"a")), ("file", ("b.txt", b"b"))])
    assert two.status_code == 422 and two.json()["detail"][0]["field"] == "file"  # not Starlette's bare 400
    broken = await upload(system, "scan.pdf", b"%PDF-1.4 image only")
    assert broken.status_code == 415 and "tệp PDF bị hỏng" in broken.json()["detail"][0]["msg"]
    program = await upload(system, "setup.exe", b"MZ\x90\x00 not a plan")
    assert program.status_code == 415 and program.json()["detail"][0]["field"] == "file"
    empty = await upload(system, "empty.txt", b"")
    assert empty.status_code == 422 and empty.json()["detail"][0]["msg"] == "tệp rỗng"

    district = (FIXTURES / "district_columns_reordered.docx").read_bytes()  # a former district: no code today
    unknown_issuer = await upload(system, "plan.docx", district, save="true")
    assert unknown_issuer.status_code == 422 and unknown_issuer.json()["detail"][0]["field"] == "issuer"
    # a plan whose timeline cannot be read: the refusal names the task's field and quotes the text
    unreadable = (
        (FIXTURES / "numbered_list.txt")
        .read_text(encoding="utf-8")
        .replace("Thời gian thực hiện: Tháng 3/2025", "Thời gian thực hiện: Khi có chỉ đạo")
    )
    refused = await upload(system, "plan.txt", unreadable.encode(), save="true", issuer="22003")
    assert refused.status_code == 422, refused.text
    problems = {p["field"]: p["msg"] for p in refused.json()["detail"]}
    assert "Khi có chỉ đạo" in problems["tasks[0].timeline"]
    wrong_code = await upload(system, "plan.docx", district, save="true", issuer="99999")
    assert wrong_code.status_code == 422 and "99999" in wrong_code.json()["detail"][0]["msg"]
    # a unit code that cannot be one (a NUL, found by the OpenAPI fuzz once scans were read): 422, not 500
    not_a_code = await upload(system, "plan.docx", district, save="true", issuer="\x00º¾")
    assert not_a_code.status_code == 422 and not_a_code.json()["detail"][0]["field"] == "issuer"
    # a plan it reads but that is not complete enough to store: every problem named, nothing stored
    no_period = (FIXTURES / "numbered_list.txt").read_text(encoding="utf-8").replace("6 tháng đầu năm 2025", "")
    incomplete = await upload(system, "plan.txt", no_period.encode(), save="true", issuer="22003")
    assert incomplete.status_code == 422, incomplete.text
    assert "period" in {problem["field"] for problem in incomplete.json()["detail"]}
    assert await plans_count(system) == 0

