"""POST /api/units/load reads the packages in a worker process (shared/bounded.py), its writes in
the request's transaction, on real servers: past CCHC_UNITS_LOAD_TIME_LIMIT_SECONDS the worker is
killed and the request refused (503, naming `provinces` and the setting), with no unit stored and
no event in the outbox. (The loads that work are those of tests/integration/plans/test_plans.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.access import Role
from shared.settings import Settings
from tests.integration.conftest import DatabaseRoles, Identity, System, running
from tests.integration.hostile.conftest import outbox_rows

pytestmark = pytest.mark.integration


@pytest.fixture
async def slow_load(settings: Settings, database_roles: DatabaseRoles) -> AsyncIterator[System]:
    """The plans service with a load of units limited to a millisecond."""
    async with running(settings, database_roles, "plans", units_load_time_limit_seconds=0.001) as system:
        yield system


@pytest.mark.parametrize("source", ["vietnam-provinces", "vietnamadminunits"])
async def test_a_load_past_the_time_limit_is_refused_naming_the_setting_and_nothing_is_stored(
    slow_load: System, source: str
) -> None:
    refused = await slow_load.post("/api/units/load", json={"source": source, "provinces": ["52"]})

    assert refused.status_code == 503, refused.text[:300]
    problem = refused.json()["detail"][0]
    assert problem["field"] == "provinces"
    assert problem["msg"].startswith("Nạp đơn vị hành chính cần quá 0,001 giây")
    assert "CCHC_UNITS_LOAD_TIME_LIMIT_SECONDS" in problem["msg"]
    assert (await slow_load.get("/api/units")).json()["items"] == []
    assert await outbox_rows(slow_load) == 0


async def test_an_admin_outside_the_province_is_refused_before_any_work_starts(slow_load: System) -> None:
    """A commune's admin asking for the whole province is 403 at once — not after the worker has
    read the packages (which, with a limit of a millisecond, would answer 503 first)."""
    commune_admin = Identity("52.21787", (Role.admin,), name="quản trị xã")
    refused = await slow_load.as_(commune_admin).post("/api/units/load", json={"provinces": ["52"]})
    assert refused.status_code == 403, refused.text[:300]
    assert await outbox_rows(slow_load) == 0
