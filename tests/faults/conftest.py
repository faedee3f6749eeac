"""One deployment per test module (its own servers, `cchc up --replicas 2`), with the world the
load works on; every test's figures go to build/reliability.json for the README's table."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.checker import Verdict
from tests.faults.deployment import Deployment, deployment
from tests.faults.load import World, build_world

FIGURES = Path(__file__).resolve().parents[2] / "build" / "reliability.json"


@contextlib.asynccontextmanager
async def own_deployment(**options: Any) -> AsyncIterator[Deployment]:
    """A deployment in a folder of its own, not pytest's: pytest prunes old sessions' folders, and
    PostgreSQL (run as its own system user when the tests run as root) needs every parent folder
    traversable."""
    root = Path(tempfile.mkdtemp(prefix="cchc-faults-"))
    try:
        async with deployment(root / "deployment", **options) as made:
            yield made
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def world_of(made: Deployment) -> World:
    """The province the load works on, built through the deployment's API, everything settled."""
    async with made.client(timeout=60) as client:
        world = await build_world(client)
    await made.settled()
    return world


@pytest.fixture(scope="module")
async def broken() -> AsyncIterator[Deployment]:
    async with own_deployment() as made:
        yield made


@pytest.fixture(scope="module")
async def world(broken: Deployment) -> World:
    return await world_of(broken)


def record(name: str, verdict: Verdict, **figures: Any) -> None:
    """Keep the test's figures (requests, ok, failed, unknown, lost, doubled, recovery …)."""
    FIGURES.parent.mkdir(exist_ok=True)
    known = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    known[name] = {**verdict.row(), **figures, "problems": verdict.problems[:10]}
    FIGURES.write_text(json.dumps(known, indent=2, ensure_ascii=False))
