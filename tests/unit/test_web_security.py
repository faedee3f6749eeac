"""The web app's defences that need no server: a value from the address cannot steer a page's API
call to another route, a notification's link stays on this site, no template runs inline script
(the CSP allows script from 'self' only), a write sent by another site's page is refused before
it reaches the API, and an address a page cannot read is said in Vietnamese, as a page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from web import app as web_app
from web.inbox.routes import page_path
from web.kit import HERE, PageError, api_path

pytestmark = pytest.mark.unit


def test_an_api_path_built_from_a_value_in_the_address_stays_the_route_the_page_meant() -> None:
    for fine in ("/api/reports/52/2026-Q1/submissions", "/api/units/21787", "/api/plans/8f0e/versions"):
        assert api_path(fine) == fine
    for steered in (
        "/api/reports/../plans/x/issue",  # httpx would send /api/plans/x/issue
        "/api/units/..",
        "/api/units/./x",
        "/api/reports/52?unit=1/2026-Q1",  # a unit code with a query in it
        "/api/reports/52#/2026-Q1",
        "/api/reports/a%2F..%2Fplans/x",
        "/api/units/a\\b",
        "/plans/x",
    ):
        with pytest.raises(PageError) as refused:
            api_path(steered)
        assert refused.value.status == 404


def test_a_notification_link_opens_a_page_of_this_site_only() -> None:
    assert page_path("https://cchc.example.vn/assignments/1") == "/assignments/1"
    assert page_path("/api/reports/rollup?unit=52&period=2026-Q1") == "/reports/52/2026-Q1"
    assert page_path("https://evil.example//evil.example/x") == "/"
    assert page_path("javascript:alert(1)") == "/"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"\bhx-on", re.I), "hx-on (needs eval)"),
]


def test_no_template_runs_inline_script() -> None:
    found = [
        f"{template.relative_to(HERE)}: {what}"
        for template in HERE.rglob("templates/*.html")
        for pattern, what in INLINE
        if pattern.search(template.read_text())
    ]
    assert found == []


@pytest.fixture
async def pages() -> AsyncIterator[httpx.AsyncClient]:
    """The pages on a bare app (no services behind them: what is tested answers before the API)."""
    gateway = FastAPI()

    @gateway.get("/api/auth/me")
    async def me() -> dict[str, object]:  # whoever presents a session cookie: an officer of 52
        return {"name": "Cán bộ", "username": "cb", "unit": "52", "unit_path": "52", "roles": ["officer"]}

    web_app.mount(gateway, cross_site=lambda request: request.headers.get("sec-fetch-site") == "cross-site")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://cchc.test") as client:
        yield client


async def test_a_page_carries_the_content_security_policy(pages: httpx.AsyncClient) -> None:
    answer = await pages.get("/login")
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["cache-control"] == "no-store"


async def test_a_write_from_another_sites_page_is_refused_before_the_api(pages: httpx.AsyncClient) -> None:
    for path in ("/login", "/logout", "/admin/users", "/inbox/x/read"):
        forged = await pages.post(path, data={"username": "a"}, headers={"sec-fetch-site": "cross-site"})
        assert forged.status_code == 403, path
        assert "CSRF" in forged.text
        assert forged.headers["x-frame-options"] == "DENY" and forged.headers["cache-control"] == "no-store"


async def test_static_files_are_cached_a_day_and_the_api_passes_the_pages_guard_untouched(
    pages: httpx.AsyncClient,
) -> None:
    style = await pages.get("/static/app.css")
    assert style.status_code == 200 and style.headers["cache-control"] == "public, max-age=86400"
    assert "content-security-policy" not in style.headers
    api = await pages.get("/api/auth/me")  # the API's answer is the service's, headers and all
    assert api.status_code == 200 and api.json()["unit"] == "52"
    assert "content-security-policy" not in api.headers and "cache-control" not in api.headers


async def test_a_unit_code_in_the_address_cannot_reach_another_api_route(pages: httpx.AsyncClient) -> None:
    pages.cookies.set("cchc_session", "cchc_s_x")
    for steered in ("/reports?unit=../plans", "/reports?unit=52%3Fx%3D1"):
        answer = await pages.get(steered, headers={"accept": "text/html"})
        assert answer.status_code == 404 and "Không có trang này." in answer.text, steered


async def test_an_address_a_page_cannot_read_is_an_error_page_in_vietnamese(pages: httpx.AsyncClient) -> None:
    pages.cookies.set("cchc_session", "cchc_s_x")
    wrong_id = await pages.get("/plans/khong-phai-ma", headers={"accept": "text/html"})
    assert wrong_id.status_code == 404 and "text/html" in wrong_id.headers["content-type"]
    assert "Không có trang này." in wrong_id.text
    wrong_page = await pages.get("/inbox?unread=abc", headers={"accept": "text/html"})
    assert wrong_page.status_code == 400 and "unread: phải là đúng hoặc sai (true/false)" in wrong_page.text
    assert "Input should be" not in wrong_page.text
