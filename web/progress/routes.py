"""The progress room: the page of one assignment for the unit that carries it out — the task, its
occurrences, the progress form with evidence upload, and the history of corrections, the latest
first, a page at a time (GET/POST /api/assignments/{id}, …/history, …/progress, …/evidence). The
API decides who may report and what a report may say; the page shows its answers and keeps what
was typed when it refuses."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from shared.vocabularies import PRODUCT_KINDS
from web.kit import AFTER, Page, PageError, Refusal, redirect, signed_in
from web.progress.forms import FIELDS, OTHER_ROWS, OUTPUT, STATUSES, Typed

router = APIRouter(include_in_schema=False)
WHO = "người đọc được nhiệm vụ (API trả 404 ngoài cây đơn vị); biểu mẫu chỉ hiện khi API cho báo cáo"
ROLES = {"lead": "Chủ trì", "coordinating": "Phối hợp"}
HISTORY_PAGE = 20  # older reports shown at a time, as many as the assignment's latest


async def task_of(page: Page, assignment: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The plan the assignment comes from and its task (timeline, expected products, leads)."""
    plan = await page.api.json_or_none(f"/api/plans/{assignment['plan_id']}")
    tasks = (plan or {}).get("tasks") or []
    return plan, next((t for t in tasks if t.get("ref") == assignment["task_ref"]), {})


async def occurrences(page: Page, assignment: dict[str, Any]) -> list[dict[str, Any]]:
    """The unit's assignments of the same task, one per occurrence, by due date."""
    try:
        listed = await page.api.every("/api/assignments", unit=assignment["unit"], plan=assignment["plan_id"])
    except PageError:  # not the caller's to list: the page shows this occurrence alone
        return []
    return [a for a in listed if a["task_ref"] == assignment["task_ref"]]


async def returned(page: Page, assignment: dict[str, Any]) -> dict[str, Any] | None:
    """The unit's periodic report for the assignment's period, if the level above returned it."""
    listed = await page.api.json_or_none(f"/api/reports/{assignment['unit']}/{assignment['period']}/submissions")
    latest = ((listed or {}).get("items") or [None])[0]
    return latest if latest and latest.get("status") == "returned" else None


def product_kinds(task: dict[str, Any], typed: Typed) -> list[dict[str, Any]]:
    """One count field per product kind the task expects, then the kinds already counted."""
    targets = {str(p.get("kind")): p.get("target") for p in task.get("products") or [] if p.get("kind")}
    kinds = list(targets) + [k for k in typed.outputs if k not in targets]
    return [{"kind": k, "label": PRODUCT_KINDS.get(k, k), "target": targets.get(k)} for k in kinds]


def history_of(page: Page, assignment: dict[str, Any], older: dict[str, Any] | None) -> dict[str, Any]:
    """The reports the history section shows, newest first, each with its number (lần): the latest
    ones that come with the assignment, or a page of older ones (`older`, read after `sau`); how
    many there are in all, and the address of the reports before those shown."""
    latest = assignment.get("pages", {}).get("history", {})
    shown = older["items"] if older is not None else list(reversed(assignment.get("history") or []))
    cursor = older["next_cursor"] if older is not None else latest.get("next_cursor")
    earlier = f"{page.request.url.path}?{urlencode({AFTER: cursor})}#lich-su" if cursor else None
    return {"shown": shown, "total": latest.get("total", len(shown)), "earlier": earlier, "later": older is not None}


async def context(page: Page, assignment_id: uuid.UUID, sau: str | None = None) -> dict[str, Any]:
    """Everything the page shows but the form's values (404/403 page if the API refuses the read);
    `sau`: the history section shows the reports before that cursor."""
    assignment = await page.api.json(f"/api/assignments/{assignment_id}")
    files = await page.api.whole(f"/api/assignments/{assignment_id}/evidence")
    plan, task = await task_of(page, assignment)
    older = None
    if sau:
        older = await page.api.json(f"/api/assignments/{assignment_id}/history", limit=HISTORY_PAGE, cursor=sau)
    return {
        "a": assignment,
        "plan": plan,
        "task": task,
        "occurrences": await occurrences(page, assignment),
        "returned": await returned(page, assignment),
        "history": list(reversed(assignment.get("history") or [])),  # newest first: the first one counts
        "reports": history_of(page, assignment, older),
        "files": files["items"],
        "limits": files["limits"],
        "active": "home",
    }


def render(
    page: Page, room: dict[str, Any], typed: Typed, *, errors: Refusal | None = None, saved: bool = False
) -> HTMLResponse:
    kinds = product_kinds(room["task"], typed)
    listed = {k["kind"] for k in kinds}
    values = {
        **room,
        "typed": typed,
        "errors": errors,
        "saved": saved,
        "kinds": kinds,
        "shown": FIELDS + [OUTPUT + k["kind"] for k in kinds],
        "other_kinds": [(k, label) for k, label in PRODUCT_KINDS.items() if k not in listed],
        "other_rows": range(OTHER_ROWS),
        "statuses": list(STATUSES.items()),
        "status_labels": STATUSES,
        "product_labels": PRODUCT_KINDS,
        "roles": ROLES,
    }
    return page.render("progress/assignment.html", values, status=errors.status if errors else 200)


@router.get("/assignments/{assignment_id}")
async def show(
    assignment_id: uuid.UUID,
    saved: bool = False,
    sau: str | None = Query(None, max_length=1000, description="các lần báo cáo trước: `next_cursor` của API"),
    page: Page = Depends(signed_in(WHO)),
) -> HTMLResponse:
    room = await context(page, assignment_id, sau or None)
    counting = room["history"][0] if room["history"] else None
    return render(page, room, Typed.of_report(counting, period=room["a"]["period"]), saved=saved)


async def upload(page: Page, assignment_id: uuid.UUID, file: UploadFile, max_bytes: int) -> str | Refusal:
    """The new evidence file sent to the API (its id), or the API's refusal (413, 415 …). One
    byte past the limit is read so that the API, not the page, says the file is too large."""
    data = await file.read(max_bytes + 1)
    answer = await page.api.send(
        "POST",
        f"/api/assignments/{assignment_id}/evidence",
        files={"file": (file.filename or "minh-chung", data, file.content_type or "application/octet-stream")},
    )
    if answer.status_code != 201:
        return Refusal.of(answer)
    return str(answer.json()["id"])


@router.post("/assignments/{assignment_id}")
async def report(assignment_id: uuid.UUID, page: Page = Depends(signed_in(WHO))) -> Response:
    room = await context(page, assignment_id)
    form = await page.request.form(max_files=1)
    typed = Typed.of_form(form, period=room["a"]["period"])
    file = form.get("file")
    if isinstance(file, UploadFile) and file.filename:
        uploaded = await upload(page, assignment_id, file, room["limits"]["max_bytes"])
        if isinstance(uploaded, Refusal):
            return render(page, room, typed, errors=uploaded)
        typed.files.append(uploaded)
        room = await context(page, assignment_id)  # the new file is listed, checked, if the report is refused
    answer = await page.api.send("POST", f"/api/assignments/{assignment_id}/progress", json=typed.body())
    if answer.status_code != 201:
        return render(page, room, typed, errors=typed.refused(Refusal.of(answer)))
    return redirect(f"/assignments/{assignment_id}?saved=true", htmx=page.htmx)
