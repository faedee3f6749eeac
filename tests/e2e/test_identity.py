"""People with real accounts on a real `cchc up`: the national admin makes accounts with the
command line, a commune officer and a province head log in through the base URL (cookie
sessions), the officer reports progress, the commune head submits, the province head accepts,
and neither the officer nor a sibling commune can do or see what is not theirs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, CCHC, Running, admin_session
from tests.e2e.steps import THIS_YEAR, eventually, quarterly_plan

pytestmark = pytest.mark.e2e
UNIT, SIBLING = "21787", "21796"


def cchc(running: Running, config: Path, *args: str) -> str:
    env = {**os.environ, "CCHC_CONFIG_DIR": str(config), "CCHC_PUBLIC_URL": running.base_url}
    env.pop("CCHC_TOKEN", None)
    done = subprocess.run([*CCHC, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def add_user(running: Running, config: Path, username: str, unit: str, role: str) -> str:
    """`cchc users add` as the logged-in admin; the temporary password it prints once."""
    out = cchc(running, config, "users", "add", username, "--unit", unit, "--role", role, "--name", username)
    found = re.search(r"Mật khẩu tạm \(chỉ hiện lần này\): (\S+)", out)
    assert found, out
    return found.group(1)


async def logged_in(base_url: str, username: str, password: str) -> httpx.AsyncClient:
    """A browser-like client: the session cookie, and Fetch Metadata saying it is our own page."""
    client = httpx.AsyncClient(base_url=base_url, timeout=30, headers={"Sec-Fetch-Site": "same-origin"})
    answer = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    assert "cchc_session" in client.cookies
    return client


async def test_an_officer_reports_a_head_accepts_and_no_one_acts_outside_their_unit(
    system_up: Running, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    out = cchc(system_up, config, "login", "--username", "admin", "--password", ADMIN_PASSWORD)
    assert "Đã đăng nhập: admin" in out
    async with admin_session(system_up.base_url) as admin:
        loaded = await admin.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
        assert loaded.status_code == 200, loaded.text
    passwords = {
        "lanhdao.tinh": add_user(system_up, config, "lanhdao.tinh", "52", "head"),
        "canbo.vinhson": add_user(system_up, config, "canbo.vinhson", UNIT, "officer"),
        "lanhdao.vinhson": add_user(system_up, config, "lanhdao.vinhson", UNIT, "head"),
        "canbo.bencanh": add_user(system_up, config, "canbo.bencanh", SIBLING, "officer"),
    }
    assert "canbo.vinhson" in cchc(system_up, config, "users", "list")

    base = system_up.base_url
    province = await logged_in(base, "lanhdao.tinh", passwords["lanhdao.tinh"])
    officer = await logged_in(base, "canbo.vinhson", passwords["canbo.vinhson"])
    commune_head = await logged_in(base, "lanhdao.vinhson", passwords["lanhdao.vinhson"])
    sibling = await logged_in(base, "canbo.bencanh", passwords["canbo.bencanh"])
    anonymous = httpx.AsyncClient(base_url=base, timeout=30)
    try:
        year = THIS_YEAR + 1
        period = f"{year}-Q1"
        # the commune officer cannot issue the province's plan; the province head can
        plan = quarterly_plan(year, "40/KH-UBND")
        assert (await officer.post("/api/plans", json=plan)).status_code == 403
        created = await province.post("/api/plans", json=plan)
        assert created.status_code == 201, created.text
        issued = await province.post(f"/api/plans/{created.json()['id']}/issue")
        assert issued.status_code == 200, issued.text

        async def own_assignment() -> list[dict]:
            answer = await officer.get("/api/assignments", params={"unit": UNIT, "period": period})
            return answer.json()["items"] if answer.status_code == 200 else []

        assignment = (await eventually(own_assignment))[0]
        # the sibling commune sees neither the assignment nor can it report on it
        assert (await sibling.get(f"/api/assignments/{assignment['id']}")).status_code == 404
        assert (await sibling.get("/api/assignments", params={"unit": UNIT, "period": period})).status_code == 403
        body = {"period": period, "status": "done", "outputs": {"article": 2}}
        assert (await sibling.post(f"/api/assignments/{assignment['id']}/progress", json=body)).status_code == 404
        assert (await anonymous.get(f"/api/assignments/{assignment['id']}")).status_code == 401

        reported = await officer.post(f"/api/assignments/{assignment['id']}/progress", json=body)
        assert reported.status_code == 201, reported.text
        history = (await officer.get(f"/api/assignments/{assignment['id']}")).json()["history"]
        assert [h["reporter"]["name"] for h in history] == ["canbo.vinhson"]  # who reported: the credential

        # the commune head submits the commune's report; only the province head may accept it
        async def rolled_up() -> bool:
            answer = await commune_head.get("/api/reports/rollup", params={"unit": UNIT, "period": period})
            return answer.status_code == 200 and answer.json().get("reported") == 1

        await eventually(rolled_up)
        submitted = await commune_head.post(f"/api/reports/{UNIT}/{period}/submit", json={"number": "5/BC-UBND"})
        assert submitted.status_code == 201, submitted.text
        refused = await officer.post(f"/api/reports/{UNIT}/{period}/accept", json={})
        assert refused.status_code == 403 and "review" in refused.json()["message"]
        own_accept = await commune_head.post(f"/api/reports/{UNIT}/{period}/accept", json={})
        assert own_accept.status_code == 403
        accepted = await province.post(f"/api/reports/{UNIT}/{period}/accept", json={})
        assert accepted.status_code == 200, accepted.text

        # the commune reads the decision on its report; the sibling commune cannot
        decisions = await officer.get(f"/api/reports/{UNIT}/{period}/submissions")
        assert decisions.status_code == 200 and decisions.json()["items"][0]["status"] == "accepted"
        assert (await sibling.get(f"/api/reports/{UNIT}/{period}/submissions")).status_code in (403, 404)
        assert (await sibling.get(f"/api/reports/{UNIT}/{period}")).status_code in (403, 404)

        # an API token from the command line: read-only, confined, revoked at once
        made = cchc(system_up, config, "tokens", "create", "cổng dữ liệu tỉnh", "--unit", "52", "--right", "read")
        token = re.search(r"Bearer …\): (\S+)", made)
        token_id = re.search(r"Đã tạo mã (\S+)", made)
        assert token and token_id, made
        with_token = {"Authorization": f"Bearer {token.group(1)}"}
        read = await anonymous.get("/api/reports/rollup", params={"unit": "52", "period": period}, headers=with_token)
        assert read.status_code == 200, read.text
        write = await anonymous.post("/api/plans", json=plan, headers=with_token)
        assert write.status_code == 403
        assert "cổng dữ liệu tỉnh" in cchc(system_up, config, "tokens", "list")
        cchc(system_up, config, "tokens", "revoke", token_id.group(1))
        assert (await anonymous.get("/api/auth/me", headers=with_token)).status_code == 401

        # a disabled account's sessions end at once; a reset password is a new temporary one
        cchc(system_up, config, "users", "disable", "canbo.bencanh")
        assert (await sibling.get("/api/auth/me")).status_code == 401
        reset = cchc(system_up, config, "users", "reset-password", "lanhdao.vinhson")
        new_password = re.search(r"lần này\): (\S+)", reset)
        assert new_password, reset
        assert (await commune_head.get("/api/auth/me")).status_code == 401  # its old session ended
        again = await logged_in(base, "lanhdao.vinhson", new_password.group(1))
        assert (await again.get("/api/auth/me")).json()["must_change_password"] is True
        await again.aclose()

        # logged out, the cookie is worth nothing
        cookie = officer.cookies["cchc_session"]
        assert (await officer.post("/api/auth/logout")).status_code == 204
        async with httpx.AsyncClient(base_url=base, cookies={"cchc_session": cookie}) as old_cookie:
            assert (await old_cookie.get("/api/auth/me")).status_code == 401

        # nothing secret was printed or logged: no password, key or token of the data folder's
        # secrets, and no session or password of this test
        printed = system_up.output.read_text() + "".join(
            log.read_text(errors="replace") for log in (system_up.data_dir / "logs").glob("*.log")
        )
        secrets = [cookie, *passwords.values()]
        for file in (system_up.data_dir / "secrets").rglob("*"):
            if file.is_file() and file.stat().st_size < 100_000:
                secrets += [line.strip() for line in file.read_text().splitlines() if len(line.strip()) >= 16]
        assert len(secrets) > 10
        leaked = [secret[:6] + "…" for secret in secrets if secret in printed]
        assert not leaked, leaked
    finally:
        for client in (province, officer, commune_head, sibling, anonymous):
            await client.aclose()
