"""The web app's own pieces that need no server: vendored assets are the pinned versions, every
page declares who may open it, Vietnamese formats, and how a refusal is read."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from shared.periods import Period
from web.app import page_access, routes
from web.kit import HERE, Refusal, dmy, dmyhm, field_id, number, percent, period_label, safe_next

pytestmark = pytest.mark.unit

PAGES_DOC = Path(__file__).resolve().parents[2] / "docs" / "web-pages.md"


def test_vendored_assets_are_the_pinned_versions() -> None:
    vendor = HERE / "static" / "vendor"
    lines = (vendor / "SHA256SUMS").read_text().split("\n")
    listed = [line.split() for line in lines if line.strip()]
    assert {name for _, name in listed} >= {"htmx-2.0.11.min.js", "pico-2.1.1.min.css"}
    for digest, name in listed:
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name


def test_every_page_declares_who_may_open_it_and_the_list_is_written_down() -> None:
    found = routes()
    assert found, "no page routes"
    undeclared = [r.path for r in found if page_access(r) is None]
    assert undeclared == []
    public = {r.path for r in found if page_access(r)[0] == "public"}  # type: ignore[index]
    assert public == {"/login"}, public
    rows = [
        f"| `{' '.join(sorted(r.methods or ()))} {r.path}` | {kind} | {who} |"
        for r in found
        for kind, who in [page_access(r)]  # type: ignore[misc]
    ]
    PAGES_DOC.write_text(
        "# Pages of the web app and who may open them\n\n"
        "Written by `tests/unit/test_web_kit.py` from the pages' own declarations (`web.kit.signed_in` /\n"
        "`public`); the gateway refuses to start with a page that declares nothing. A page acts with the\n"
        "viewer's own session through the HTTP API, so what it shows and does is what the API allows\n"
        "(docs/access-matrix.md); `signed_in` pages send a browser without a session to the login page.\n\n"
        "| page | access | who (as declared) |\n|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def test_templates_load_no_cdn() -> None:
    for template in Path(HERE).rglob("*.html"):
        text = template.read_text()
        assert "https://" not in text.replace("https://www.w3.org", ""), template


def test_dates_are_dd_mm_yyyy_in_vietnam_time() -> None:
    assert dmy("2026-01-05") == "05/01/2026"
    assert dmy(datetime(2026, 3, 31, 18, 30, tzinfo=UTC)) == "01/04/2026"  # 01:30 in Vietnam
    assert dmyhm("2026-03-31T18:30:00+00:00") == "01:30 01/04/2026"
    assert dmy(None) == "" and dmy("not a date") == ""


def test_numbers_use_vietnamese_grouping() -> None:
    assert number(1234567) == "1.234.567"
    assert number(1234.5, 1) == "1.234,5"
    assert percent(0.857) == "86 %"
    assert percent(None) == "—"


def test_login_never_sends_anyone_to_another_site() -> None:
    assert safe_next("/plans?q=1") == "/plans?q=1"
    for hostile in ("https://evil.example", "//evil.example", "/\\evil.example", "", None):
        assert safe_next(hostile) == "/"


def test_a_refusal_names_its_fields() -> None:
    answer = httpx.Response(
        422,
        json={
            "detail": [{"field": "outputs[0].count", "msg": "phải lớn hơn hoặc bằng 0"}, {"field": "note", "msg": "a"}],
            "message": "x",
        },
    )
    refusal = Refusal.of(answer)
    assert refusal.at("outputs[0].count") == "phải lớn hơn hoặc bằng 0"
    assert refusal.others(["note"]) == ["outputs[0].count: phải lớn hơn hoặc bằng 0"]
    assert field_id("outputs[0].count") == "f-outputs-0-count"
    plain = Refusal.of(httpx.Response(409, json={"detail": "kế hoạch đã ban hành"}))
    assert plain.message == "kế hoạch đã ban hành" and plain.fields == {}


def test_a_refusal_of_a_list_item_is_said_at_the_field_that_holds_the_list() -> None:
    refusal = Refusal(422, "x", {"roles[0]": "không có", "roles[1]": "trùng", "quiet_hours.start": "sai giờ"})
    assert refusal.folded({"quiet_hours.start": "quiet_start"}).fields == {
        "roles": "không có; trùng",
        "quiet_start": "sai giờ",
    }
    assert refusal.placed(str.upper).fields["ROLES[0]"] == "không có"


def test_a_period_is_said_in_words_once_for_every_room() -> None:
    assert period_label("2026-Q1") == "Quý I năm 2026"
    assert period_label(Period("half", 2026, 1)) == "6 tháng đầu năm 2026"
    assert period_label("2026-Q4", capital=False) == "quý IV năm 2026"
    assert period_label("không phải kỳ") == "không phải kỳ"
