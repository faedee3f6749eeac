"""Fixtures of the notify tests: a real SMTP server and a real HTTP receiver in this process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.routing import Route

from shared.servers import free_port
from tests.integration.notify.peers import Mailbox, Receiver


@pytest.fixture
async def mailbox() -> AsyncIterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    peer = Receiver(port=free_port())
    app = Starlette(routes=[Route("/hook", peer.endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=peer.port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 — uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    try:
        yield peer
    finally:
        server.should_exit = True
        server.force_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 5)
