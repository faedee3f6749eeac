"""Pages of the imports room (nhập kế hoạch từ tệp): upload a .docx or .txt plan, review the text
that was read beside the draft with every warning at its line, correct the draft in place, save it
as a draft plan or save and issue it.

API: GET /api/plans/parse (upload limits), POST /api/plans/parse (read a document into a draft),
POST /api/plans (save the draft), POST /api/plans/{id}/issue. The review form carries the draft
between requests (web/imports/review.py): nothing is stored until the official saves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from web.imports.review import Review
from web.kit import Page, Refusal, redirect, signed_in
from web.plans.display import product_kinds

router = APIRouter(include_in_schema=False)
WHO = "người soạn kế hoạch (quyền soạn kế hoạch; API kiểm tra đơn vị ban hành)"
BY_DOCUMENT = ""  # the issuer option "as the document names it"
KINDS = product_kinds()


@router.get("/imports/new")
async def upload_form(page: Page = Depends(signed_in(WHO))) -> HTMLResponse:
    limits = await page.api.json("/api/plans/parse")
    return _upload_page(page, limits, issuer=page.viewer.unit)


@router.post("/imports/new")
async def upload(page: Page = Depends(signed_in(WHO))) -> Response:
    """Read the uploaded file through the API; its draft is shown for review, not stored."""
    limits = await page.api.json("/api/plans/parse")
    form = await page.request.form()
    issuer = str(form.get("issuer") or "")
    file = form.get("file")
    name, data, media = "", b"", ""
    if isinstance(file, UploadFile):  # read one byte past the limit: the API says "too large"
        name, data, media = file.filename or "", await file.read(int(limits["max_bytes"]) + 1), file.content_type or ""
    sent = {"file": (name, data, media or "application/octet-stream")}
    answer = await page.api.send("POST", "/api/plans/parse", files=sent, data={"issuer": issuer} if issuer else {})
    if answer.status_code >= 400:
        return _upload_page(page, limits, issuer=issuer, errors=Refusal.of(answer), status=answer.status_code)
    return _review_page(page, Review.of_parse(answer.json()))


@router.post("/imports/review")
async def save(page: Page = Depends(signed_in(WHO))) -> Response:
    """Save the corrected draft (POST /api/plans); with "Lưu và ban hành", issue it too."""
    form = await page.request.form()
    review = Review.of_form(form)
    sent = review.plan()
    created = await page.api.send("POST", "/api/plans", json=sent.body)
    if created.status_code >= 400:
        return _review_page(page, review, errors=sent.on_form(Refusal.of(created)), status=created.status_code)
    plan_id = created.json()["id"]
    if form.get("action") == "issue":
        issued = await page.api.send("POST", f"/api/plans/{plan_id}/issue")
        if issued.status_code >= 400:  # the draft is saved: say so, and why it was not issued
            return page.render(
                "imports/not_issued.html",
                {"plan_id": plan_id, "errors": Refusal.of(issued), "active": "plans"},
                status=issued.status_code,
            )
    return redirect(f"/plans/{plan_id}", htmx=page.htmx)


def _upload_page(
    page: Page, limits: dict[str, Any], *, issuer: str, errors: Refusal | None = None, status: int = 200
) -> HTMLResponse:
    viewer = page.viewer
    issuers = [(BY_DOCUMENT, "Theo cơ quan ban hành ghi trong văn bản")]
    if viewer.unit and viewer.unit != "*":
        issuers.insert(0, (viewer.unit, f"{viewer.unit_name} ({viewer.unit})"))
    context = {"limits": limits, "issuers": issuers, "issuer": issuer, "errors": errors, "active": "plans"}
    return page.render("imports/new.html", context, status=status)


def _review_page(page: Page, review: Review, *, errors: Refusal | None = None, status: int = 200) -> HTMLResponse:
    context = {"review": review, "errors": errors, "kinds": KINDS, "active": "plans"}
    return page.render("imports/review.html", context, status=status)
