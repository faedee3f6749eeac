"""Pages of the plans room: the list and search of plans, a plan's page (its tasks, how many units
reported on each, the tree of plans implementing it, its versions), the draft form (new, edit,
amend), the confirmations of issuing and closing, and a child unit's implementing plan.

Every read and write is the plans API's (/api/plans…) and the tasks API's (/api/assignments),
called as the viewer: what a person may see or do is the API's answer; the pages only hide the
buttons that the viewer's rights could not use."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from shared.access import within
from shared.clock import VN
from web.kit import Page, Refusal, redirect, signed_in
from web.plans import display
from web.plans.forms import PlanForm, blank_task, placed, shown_fields

router = APIRouter(include_in_schema=False)

READER = "người đã đăng nhập; API chỉ cho xem kế hoạch trong cây đơn vị của mình và kế hoạch cấp trên đã ban hành"
PLANNER = "người có quyền lập kế hoạch (API kiểm tra quyền trên đơn vị ban hành)"
NEW_ROWS = 3  # empty task rows of a new plan's form (more with the htmx button)
ACTIONS = {  # the irreversible steps asked for again: (API path, heading, what it does, button, done)
    "issue": (
        "issue",
        "Ban hành kế hoạch",
        "Các đơn vị chủ trì nhận nhiệm vụ theo từng kỳ và các đơn vị cấp dưới được giao xây dựng kế hoạch "
        "thực hiện. Sau khi ban hành, kế hoạch không sửa trực tiếp được nữa, chỉ điều chỉnh.",
        "Xác nhận ban hành",
        "Đã ban hành kế hoạch.",
    ),
    "close": (
        "close",
        "Kết thúc kế hoạch",
        "Kế hoạch kết thúc: các đơn vị không báo cáo tiến độ thêm vào kế hoạch này. Không mở lại được.",
        "Xác nhận kết thúc",
        "Đã kết thúc kế hoạch.",
    ),
}
DONE = {key: action[4] for key, action in ACTIONS.items()} | {
    "saved": "Đã lưu dự thảo.",
    "amended": "Đã điều chỉnh kế hoạch: phiên bản mới đã có hiệu lực.",
    "child": "Đã tạo dự thảo kế hoạch thực hiện từ kế hoạch cấp trên. Kiểm tra, sửa nếu cần rồi ban hành.",
}


# ---- reading what the pages show ------------------------------------------------------------------


async def units_below(page: Page, code: str) -> list[dict[str, Any]]:
    """The bodies and child units of `code` (empty for a code the directory does not know)."""
    if not code or await unit_or_none(page, code) is None:
        return []
    return await page.api.every("/api/units", parent=code)


def names_of(units: list[dict[str, Any]]) -> dict[str, str]:
    return {u["code"]: u["name"] for u in units}


async def unit_or_none(page: Page, code: str) -> dict[str, Any] | None:
    return await page.api.json_or_none(f"/api/units/{code}")


async def issuer_choices(page: Page) -> list[tuple[str, str]]:
    """Units a plan may be issued by from this form: the viewer's own, then its child units."""
    viewer = page.viewer
    below = [u for u in await units_below(page, viewer.unit) if u["level"] in display.ADMIN_LEVELS]
    own = [(viewer.unit, viewer.unit_name)] if viewer.unit else []
    return own + [(u["code"], u["name"]) for u in below if not u.get("valid_to")]


async def list_filters(page: Page) -> list[tuple[str, str]]:
    """The issuers a viewer looks for plans of: the units above (whose plans it implements), its
    own, its child units."""
    above = [await unit_or_none(page, code) for code in page.viewer.unit_path.split(".")[:-1]]
    return [(u["code"], u["name"]) for u in above if u] + await issuer_choices(page)


def this_year() -> int:
    return datetime.now(VN).year


def may_change(page: Page, issuer: dict[str, Any] | None) -> bool:
    """Whether to offer the changing buttons: the viewer plans and the issuer is in its subtree."""
    return page.viewer.may("plan") and issuer is not None and within(issuer["path"], page.viewer.unit_path or "*")


# ---- the list ---------------------------------------------------------------------------------------


@router.get("/plans")
async def plan_list(
    q: str = "", status: str = "", period: str = "", issuer: str = "", page: Page = Depends(signed_in(READER))
) -> HTMLResponse:
    wanted = {"q": q.strip(), "status": status, "period": period.strip(), "issuer": issuer}
    answer = await page.api.send("GET", "/api/plans", params={**{k: v for k, v in wanted.items() if v}, "limit": 200})
    refused = Refusal.of(answer) if answer.status_code >= 400 else None
    context = {
        "active": "plans",
        "wanted": wanted,
        "plans": [] if refused else answer.json()["items"],
        "refused": refused,
        "issuers": await list_filters(page),
        "periods": display.period_choices(this_year(), wanted["period"]),
        "STATUS": display.STATUS,
    }
    return page.render("plans/list.html", context, block="results" if page.htmx else None)


# ---- the draft form -----------------------------------------------------------------------------------


async def form_page(
    page: Page,
    form: PlanForm,
    *,
    mode: str,
    plan: dict[str, Any] | None = None,
    errors: Refusal | None = None,
    blank_rows: int = 1,
) -> HTMLResponse:
    """The plan form: `mode` is "new", "edit" (a draft) or "amend" (an issued plan)."""
    shown = form.for_typing(blank_rows)
    context = {
        "active": "plans",
        "mode": mode,
        "plan": plan,
        "form": shown,
        "errors": placed(errors) if errors else None,
        "shown": shown_fields(shown),
        "issuers": await issuer_choices(page) if mode == "new" else [],
        "issuer_name": (plan or {}).get("issuer_name", ""),
        "periods": display.period_choices(this_year(), form.period),
        "year": form.period[:4] if form.period[:4].isdigit() else str(this_year()),
        "kinds": display.product_kinds(),
        "bodies": await units_below(page, form.issuer),
    }
    return page.render("plans/form.html", context, status=errors.status if errors else 200)


async def stored_plan(page: Page, plan_id: uuid.UUID) -> dict[str, Any]:
    """The plan with its issuer's name (404/403 pages come from the API's answer)."""
    plan = dict(await page.api.json(f"/api/plans/{plan_id}"))
    issuer = await unit_or_none(page, plan["issuer"])
    plan["issuer_name"] = issuer["name"] if issuer else plan["issuer"]
    return plan


async def stored_form(page: Page, plan: dict[str, Any]) -> PlanForm:
    return PlanForm.of_plan(plan, names_of(await units_below(page, plan["issuer"])))


@router.get("/plans/new")
async def new_plan_form(page: Page = Depends(signed_in(PLANNER))) -> HTMLResponse:
    form = PlanForm(issuer=page.viewer.unit, period=str(this_year()))
    return await form_page(page, form, mode="new", blank_rows=NEW_ROWS)


@router.post("/plans/new")
async def create_plan(page: Page = Depends(signed_in(PLANNER))) -> Response:
    posted = await page.request.form()
    form = PlanForm.posted(posted)
    if "more" in posted:  # "add a task" without JavaScript: the form again, one empty row more
        return await form_page(page, form, mode="new", blank_rows=form.blanks + 1)
    answer = await page.api.send("POST", "/api/plans", json=form.body())
    if answer.status_code >= 400:
        return await form_page(page, form, mode="new", errors=Refusal.of(answer))
    return redirect(f"/plans/{answer.json()['id']}?done=saved", htmx=page.htmx)


@router.get("/plans/task-row")
async def task_row(index: int = 0, page: Page = Depends(signed_in(PLANNER))) -> HTMLResponse:
    """One more empty task row for the form (htmx), and the button that adds the next one."""
    context = {
        "index": index,
        "task": blank_task(index),
        "kinds": display.product_kinds(),
        "errors": None,
        "year": str(this_year()),
    }
    return page.render("plans/task_row.html", context)


async def save(page: Page, plan_id: uuid.UUID, *, mode: str, method: str, path: str, done: str) -> Response:
    """Send the posted form over the stored plan; on refusal the form again, as typed."""
    plan = await stored_plan(page, plan_id)
    posted = await page.request.form()
    form = PlanForm.posted(posted)
    if "more" in posted:
        return await form_page(page, form, mode=mode, plan=plan, blank_rows=form.blanks + 1)
    answer = await page.api.send(method, path, json=form.body(plan))
    if answer.status_code >= 400:
        return await form_page(page, form, mode=mode, plan=plan, errors=Refusal.of(answer))
    return redirect(f"/plans/{plan_id}?done={done}", htmx=page.htmx)


@router.get("/plans/{plan_id}/edit")
async def edit_draft_form(plan_id: uuid.UUID, page: Page = Depends(signed_in(PLANNER))) -> HTMLResponse:
    plan = await stored_plan(page, plan_id)
    return await form_page(page, await stored_form(page, plan), mode="edit", plan=plan)


@router.post("/plans/{plan_id}/edit")
async def edit_draft(plan_id: uuid.UUID, page: Page = Depends(signed_in(PLANNER))) -> Response:
    return await save(page, plan_id, mode="edit", method="PUT", path=f"/api/plans/{plan_id}", done="saved")


@router.get("/plans/{plan_id}/amend")
async def amend_form(plan_id: uuid.UUID, page: Page = Depends(signed_in(PLANNER))) -> HTMLResponse:
    plan = await stored_plan(page, plan_id)
    return await form_page(page, await stored_form(page, plan), mode="amend", plan=plan)


@router.post("/plans/{plan_id}/amend")
async def amend(plan_id: uuid.UUID, page: Page = Depends(signed_in(PLANNER))) -> Response:
    return await save(page, plan_id, mode="amend", method="POST", path=f"/api/plans/{plan_id}/amend", done="amended")


# ---- a plan's page ---------------------------------------------------------------------------------------


async def task_coverage(page: Page, plan: dict[str, Any]) -> dict[str, display.Coverage] | None:
    """Assignments of the plan in the viewer's subtree, per task (one request for every unit);
    None when the tasks service does not answer them."""
    if plan["status"] == "draft":
        return {}
    scope = page.viewer.unit or plan["issuer"]
    answer = await page.api.send(
        "GET", "/api/assignments", params={"within": scope, "plan": plan["id"], "limit": 10000}
    )
    return display.coverage(answer.json()["items"]) if answer.status_code == 200 else None


@router.get("/plans/{plan_id}")
async def plan_page(plan_id: uuid.UUID, done: str = "", page: Page = Depends(signed_in(READER))) -> HTMLResponse:
    plan = await page.api.json(f"/api/plans/{plan_id}")
    issuer = await unit_or_none(page, plan["issuer"])
    context = {
        "active": "plans",
        "plan": plan,
        "issuer": issuer,
        "names": names_of(await units_below(page, plan["issuer"])),
        "tree": await page.api.json(f"/api/plans/{plan_id}/tree"),
        "versions": await page.api.every(f"/api/plans/{plan_id}/versions"),
        "coverage": await task_coverage(page, plan),
        "parent": await parent_of(page, plan),
        "may_change": may_change(page, issuer),
        "done": DONE.get(done, ""),
        "STATUS": display.STATUS,
        "KINDS": dict(display.product_kinds()),
        "leads": display.leads,
        "common_due": display.common_due,
    }
    return page.render("plans/plan.html", context)


async def parent_of(page: Page, plan: dict[str, Any]) -> dict[str, Any] | None:
    """The plan this one implements, if the viewer may read it."""
    if not plan.get("parent_plan"):
        return None
    return await page.api.json_or_none(f"/api/plans/{plan['parent_plan']}")


# ---- issue and close, asked again ---------------------------------------------------------------------------


def _confirm(page: Page, plan: dict[str, Any], action: str, refused: Refusal | None = None) -> HTMLResponse:
    _, heading, explanation, button, _ = ACTIONS[action]
    context = {
        "active": "plans",
        "plan": plan,
        "action": action,
        "heading": heading,
        "explanation": explanation,
        "button": button,
        "refused": refused,
    }
    return page.render("plans/confirm.html", context, status=refused.status if refused else 200)


async def ask(page: Page, plan_id: uuid.UUID, action: str) -> HTMLResponse:
    return _confirm(page, await stored_plan(page, plan_id), action)


async def act(page: Page, plan_id: uuid.UUID, action: str) -> Response:
    answer = await page.api.send("POST", f"/api/plans/{plan_id}/{ACTIONS[action][0]}")
    if answer.status_code >= 400:
        return _confirm(page, await stored_plan(page, plan_id), action, Refusal.of(answer))
    return redirect(f"/plans/{plan_id}?done={action}", htmx=page.htmx)


@router.get("/plans/{plan_id}/issue")
async def issue_confirm(plan_id: uuid.UUID, page: Page = Depends(signed_in(PLANNER))) -> HTMLResponse:
    return await ask(page, plan_id, "issue")


@router.post("/plans/{plan_id}/issue")
async def issue(plan_id: uuid.UUID, page: Page = Depends(signed_in(PLANNER))) -> Response:
    return await act(page, plan_id, "issue")


@router.get("/plans/{plan_id}/close")
async def close_confirm(plan_id: uuid.UUID, page: Page = Depends(signed_in(PLANNER))) -> HTMLResponse:
    return await ask(page, plan_id, "close")


@router.post("/plans/{plan_id}/close")
async def close(plan_id: uuid.UUID, page: Page = Depends(signed_in(PLANNER))) -> Response:
    return await act(page, plan_id, "close")


# ---- a child unit's implementing plan ------------------------------------------------------------------------


async def child_units(page: Page, plan: dict[str, Any]) -> list[tuple[str, str]]:
    """Units that may implement the plan from here: the viewer's own (below the issuer), then
    those of its subtree that have not issued theirs yet (the tree's list)."""
    viewer = page.viewer
    tree = await page.api.json(f"/api/plans/{plan['id']}/tree")
    own = [(viewer.unit, viewer.unit_name)] if viewer.unit and viewer.unit != plan["issuer"] else []
    pending = [(u["unit"], u["name"]) for u in tree["not_issued"] if u["unit"] != viewer.unit]
    return own + pending


async def child_form(page: Page, plan_id: uuid.UUID, *, unit: str = "", refused: Refusal | None = None) -> HTMLResponse:
    plan = await stored_plan(page, plan_id)
    context = {
        "active": "plans",
        "plan": plan,
        "units": await child_units(page, plan),
        "unit": unit,
        "errors": refused,
    }
    return page.render("plans/child.html", context, status=refused.status if refused else 200)


@router.get("/plans/{plan_id}/children/new")
async def child_plan_form(plan_id: uuid.UUID, page: Page = Depends(signed_in(PLANNER))) -> HTMLResponse:
    return await child_form(page, plan_id)


@router.post("/plans/{plan_id}/children/new")
async def create_child_plan(plan_id: uuid.UUID, page: Page = Depends(signed_in(PLANNER))) -> Response:
    unit = str((await page.request.form()).get("unit", "")).strip()
    answer = await page.api.send("POST", f"/api/plans/{plan_id}/children", json={"unit": unit})
    if answer.status_code >= 400:
        return await child_form(page, plan_id, unit=unit, refused=Refusal.of(answer))
    return redirect(f"/plans/{answer.json()['id']}?done=child", htmx=page.htmx)
