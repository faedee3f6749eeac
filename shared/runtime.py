"""What every service process runs: HTTP (FastAPI) and events (FastStream on JetStream) over its
own schema, with the outbox relay, periodic sweeps, health and the AsyncAPI document."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import BaseModel
from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import audit, auth, bounded, bus, drain, http_limits, limits, nats_security, outbox, validation
from shared.clock import Clock
from shared.db import make_engine, make_sessions, system_scope
from shared.db_roles import with_password
from shared.errors import Conflict, Forbidden, InputError, NotFound, TooManyRequests
from shared.events import EVENT_TYPES, Event
from shared.settings import Settings
from shared.telemetry import setup_tracing

log = logging.getLogger(__name__)

PeriodicJob = Callable[["Service"], Awaitable[Any]]


@dataclass
class Service:
    """One service: its name, tables, subscriptions, routes and periodic jobs."""

    name: str
    metadata: MetaData
    subscriptions: list[bus.Subscription]
    router: APIRouter
    publishes: list[str]
    settings: Settings
    clock: Clock = field(default_factory=Clock)
    periodic: list[PeriodicJob] = field(default_factory=list)
    batched: bool = False  # consume a fetched batch per transaction (hot consumers)

    engine: AsyncEngine = field(init=False, repr=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False, repr=False)
    broker: NatsBroker = field(init=False, repr=False)
    relay: outbox.OutboxRelay = field(init=False, repr=False)
    ready: bool = field(default=False, init=False)
    problem: str = field(default="đang khởi động (starting)", init=False)

    def __post_init__(self) -> None:
        if "audit.recorded" not in self.publishes:  # every service records its writes (shared/audit.py)
            self.publishes = [*self.publishes, "audit.recorded"]
        self.verifier = auth.Verifier.from_settings(self.settings)
        self.outbox = self._table("outbox")
        self.inbox = self._table("inbox")
        self.event_limits = outbox.EventLimits.from_settings(self.settings)
        bounded.configure(
            workers=self.settings.heavy_workers,
            wait_seconds=self.settings.heavy_wait_seconds,
            memory_bytes=self.settings.heavy_memory_bytes,
        )
        self.broker = NatsBroker(
            self.settings.nats_servers,
            middlewares=[bus.telemetry()],  # a fetched batch is traced by the bus, per batch
            max_reconnect_attempts=-1,  # reconnect forever; /healthz says when we are cut off
            reconnect_time_wait=1,
            # a link that goes silent (a frozen server, a dropped route) is noticed within 30 s,
            # not nats-py's default 4 minutes of unanswered pings
            ping_interval=10,
            max_outstanding_pings=3,
            logger=logging.getLogger(f"cchc.{self.name}.bus"),
            **nats_security.broker_options(self.settings),  # its own NATS user, if configured
        )
        for event_type in self.publishes:
            self.broker.publisher(
                f"{self.settings.nats_prefix}.{event_type}.{{unit_path}}",
                schema=EVENT_TYPES[event_type],
                title=event_type,
                description=(EVENT_TYPES[event_type].__doc__ or "").strip(),
            )

    def _table(self, name: str) -> Table:
        return self.metadata.tables[f"{self.name}.{name}"]

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit (with its outbox rows and, for a write request, its audit
        entry) or roll back, then wake the relay."""
        async with self.sessions() as session, session.begin():
            yield session
            if (entry := audit.pending(self.name)) is not None:
                unit, payload = entry
                await self.emit(session, [self.event("audit.recorded", unit_path=unit, payload=payload)])
        self.relay.wake()

    async def emit(self, session: AsyncSession, events: list[Event]) -> None:
        """Put the events a write causes in this service's outbox, in the write's transaction."""
        envelopes = [event.envelope(self.name) for event in events]
        await outbox.add(session, self.outbox, envelopes, prefix=self.settings.nats_prefix, limits=self.event_limits)

    def event(self, event_type: str, *, unit_path: str, payload: BaseModel, at: datetime | None = None) -> Event:
        """An event of this service, happening now unless `at` says when."""
        return Event(event_type, unit_path=unit_path, payload=payload, at=at or self.clock.now())

    def asyncapi(self) -> Any:
        spec = AsyncAPI(self.broker, title=f"CCHC {self.name}", version="1")
        return spec.to_specification().to_jsonable()

    async def health(self) -> tuple[bool, str]:
        if not self.ready:
            return False, self.problem
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return False, f"PostgreSQL: {exc.__class__.__name__}"
        if not self.broker.connection.is_connected:
            return False, "NATS: mất kết nối (disconnected)"
        return True, "ok"

    async def run_job(self, job: PeriodicJob) -> Any:
        """Run a periodic job once; sweeps and deliveries span units: every unit is in scope."""
        with system_scope():
            return await job(self)

    async def _run_periodic(self, job: PeriodicJob) -> None:
        while True:
            try:
                await self.run_job(job)
            except Exception:
                log.exception("%s: periodic job %s failed", self.name, getattr(job, "__name__", job))
            # a job may carry its own pace (the delivery worker: seconds, not the sweeps' minutes)
            interval = getattr(job, "interval", None)
            await asyncio.sleep(interval(self.settings) if interval else self.settings.sweep_interval_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(self, _: FastAPI | None = None) -> AsyncIterator[None]:
        database_url = with_password(self.settings.require_urls()[1], self.settings.secret("database_password"))
        self.engine = make_engine(database_url, pool_size=self.settings.database_pool_size)
        self.sessions = make_sessions(self.engine)
        self.relay = outbox.OutboxRelay(
            engine=self.engine,
            outbox=self.outbox,
            broker=self.broker,
            prefix=self.settings.nats_prefix,
            poll=self.settings.outbox_poll_seconds,
        )
        for sub in self.subscriptions:
            bus.attach(
                self.broker,
                sub,
                service=self.name,
                settings=self.settings,
                sessions=self.sessions,
                inbox=self.inbox,
                outbox_=self.outbox,
                after_commit=self.relay.wake,
                limits=self.event_limits,
                batched=self.batched,
            )
        await self.broker.connect()
        # what this nats-server takes in one message caps every family's limit (an external server
        # left at the default 1 MB makes plans larger than that refused at the API, not stuck)
        self.event_limits.server_max_payload = self.broker.connection.max_payload
        js = self.broker.connection.jetstream()
        await nats_security.declare_or_check(
            js, service=self.name, publishes=self.publishes, subscriptions=self.subscriptions, settings=self.settings
        )
        await self.broker.start()
        tasks = [asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox")]
        tasks += [asyncio.create_task(self._run_periodic(job)) for job in self.periodic]
        self.ready = True
        log.info("%s ready", self.name)
        try:
            yield
        finally:
            # A stop (SIGTERM), once uvicorn has let the requests in flight finish, phase by phase
            # within STOP_SECONDS: the events being handled finish and are acked, the ones fetched
            # and not started are nak'd (redelivered at once, not after ack_wait); the relay
            # publishes what they and the requests committed; the connections close.
            self.ready = False
            self.problem = "đang dừng (stopping)"
            began = asyncio.get_running_loop().time()
            drained = await drain.of(self.broker).stop(self.broker.subscribers, seconds=EVENT_DRAIN_SECONDS)
            self.relay.stop()
            published = self.relay.published
            try:
                async with asyncio.timeout(RELAY_FLUSH_SECONDS):
                    await asyncio.gather(tasks[0], return_exceptions=True)  # its pass under way
                    while await self.relay.publish_pending():
                        pass
            except Exception as exc:  # noqa: BLE001 — the rows stay in the outbox: the next start publishes them
                log.warning(
                    "%s: outbox not emptied before stopping (%r); it is published at the next start", self.name, exc
                )
            for task in tasks:
                task.cancel()
            try:
                async with asyncio.timeout(CLOSE_SECONDS):
                    await asyncio.gather(*tasks, return_exceptions=True)
                    for close in (self.broker.stop, self.engine.dispose):  # NATS drained and closed, then the pool
                        try:
                            await close()
                        except Exception as exc:  # noqa: BLE001 — the process ends anyway
                            log.warning("%s: %r while closing", self.name, exc)
            except TimeoutError:
                log.warning("%s: connections not closed within %.1f s", self.name, CLOSE_SECONDS)
            log.info(
                "%s stopped in %.1f s after its requests: %d events finished, %d returned to the stream (nak), "
                "%d overran and were returned; %d outbox events published",
                self.name,
                asyncio.get_running_loop().time() - began,
                drained.finished,
                drained.returned,
                drained.overran,
                self.relay.published - published,
            )

    def build_app(self) -> FastAPI:
        app = FastAPI(title=f"CCHC {self.name}", lifespan=self.lifespan)
        app.state.service = self
        # every route: parameters refused by name before a query is made of them (shared/limits.py)
        app.include_router(self.router, dependencies=[Depends(limits.storable_parameters)])
        declare_access(app)
        plain_openapi = app.openapi

        def openapi() -> dict[str, Any]:
            schema = plain_openapi()  # cached by FastAPI: the scheme is added once
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["bearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "phiên (cchc_s_…), mã truy cập (cchc_t_…) qua địa chỉ chung, hoặc JWT",
            }
            return schema

        app.openapi = openapi  # type: ignore[method-assign]

        @app.get("/healthz", include_in_schema=False, dependencies=[Depends(auth.public("sức khỏe dịch vụ"))])
        async def healthz() -> JSONResponse:
            ok, reason = await self.health()
            # event families the relay holds back (their stream full or refusing): still serving,
            # but an operator must look (the events wait in the outbox)
            waiting = sorted(self.relay.held) if ok else []
            return JSONResponse(
                {"service": self.name, "status": "ok" if ok else "unavailable", "reason": reason, "waiting": waiting},
                status_code=200 if ok else 503,
            )

        @app.get("/asyncapi.json", include_in_schema=False, dependencies=[Depends(auth.public("danh mục sự kiện"))])
        async def asyncapi() -> Any:
            return self.asyncapi()

        install_error_handlers(app)
        app.add_middleware(audit.AuditContext)
        # outermost: a body past its limit is refused before any other layer reads it
        app.add_middleware(
            http_limits.BodyLimit,
            default=self.settings.max_body_bytes,
            routes=http_limits.upload_routes(self.settings),
        )
        # one span per request: not also one per ASGI message sent or received (two or three more
        # spans on every answer, with nothing in them a trace needs)
        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz", exclude_spans=["receive", "send"])
        return app


def api_routes(app: FastAPI) -> list[tuple[str, Any]]:
    """Every APIRoute of the app with its full path, through included routers too (FastAPI
    includes them lazily, so `app.routes` alone does not list their routes)."""
    from fastapi.routing import APIRoute

    found: list[tuple[str, Any]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.append((prefix + route.path, route))
            elif hasattr(route, "original_router"):  # an included router
                walk(route.original_router.routes, prefix + getattr(route.include_context, "prefix", ""))

    walk(list(app.router.routes), "")
    return found


def declare_access(app: FastAPI) -> None:
    """Every route says who may call it (shared.auth.allow / public); the OpenAPI document shows
    it as `x-cchc-access`. A route without a declaration is a programming error: the service
    refuses to start rather than serve it to anyone."""
    missing = []
    for path, route in api_routes(app):
        rule = auth.rule_of(route)
        if rule is None:
            missing.append(f"{','.join(sorted(route.methods or ()))} {path}")
            continue
        route.openapi_extra = {**(route.openapi_extra or {}), "x-cchc-access": rule.describe()}
        if not rule.public:
            route.openapi_extra.setdefault("security", [{"bearer": []}])
    if missing:
        raise RuntimeError("routes without an access declaration (shared.auth.allow): " + "; ".join(missing))


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    name = ""
    for part in loc:
        if part in ("body", "query", "path"):
            continue
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or (str(loc[0]) if loc else "")  # a problem of the whole body is named "body"


def install_error_handlers(app: FastAPI) -> None:
    """4xx bodies: {"detail": [{"field", "msg"}], "message"} — every problem names its field."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": _field_name(e["loc"]), "msg": validation.vietnamese(e), "loc": list(e["loc"]), "type": e["type"]}
            for e in exc.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['msg']}" for p in problems)
        return JSONResponse({"detail": problems, "message": message}, status_code=422)

    @app.exception_handler(InputError)
    async def invalid_input(_: Request, exc: InputError) -> JSONResponse:
        problems = [{"field": p.field, "msg": p.message} for p in exc.problems]
        return JSONResponse({"detail": problems, "message": str(exc)}, status_code=exc.status)

    @app.exception_handler(auth.Unauthorized)
    async def unauthorized(_: Request, exc: auth.Unauthorized) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc), "message": str(exc)},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="cchc"' + (', error="invalid_token"' if exc.invalid else "")},
        )

    @app.exception_handler(TooManyRequests)
    async def too_many(_: Request, exc: TooManyRequests) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc), "message": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)}
        )

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "message": str(exc)}, status_code=404)

    @app.exception_handler(Forbidden)
    async def forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "message": str(exc)}, status_code=403)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "message": str(exc)}, status_code=409)


async def service_of(request: Request) -> Service:
    """FastAPI dependency: the Service this route belongs to. Async, as every dependency on a
    hot route: FastAPI runs a plain `def` in a worker thread, a hop per request (issue 18's
    profile: about 10 % of the tasks service's time under ingest)."""
    return request.app.state.service  # type: ignore[no-any-return]


# How long a stop (SIGTERM) may take, phase by phase: the requests in flight finish (then are
# cancelled); the events being handled finish, commit and ack (then are nak'd and cancelled, plus
# shared.drain.CLEANUP_SECONDS); the relay publishes what was committed; the NATS connection, the
# periodic jobs and the database pool close. Whoever stops a service must wait longer than
# STOP_SECONDS before killing it: compose's stop_grace_period, the supervisor of `cchc up`.
HTTP_DRAIN_SECONDS = 5  # uvicorn takes whole seconds
EVENT_DRAIN_SECONDS = 3.0
RELAY_FLUSH_SECONDS = 2.0
CLOSE_SECONDS = 1.5
STOP_SECONDS = HTTP_DRAIN_SECONDS + EVENT_DRAIN_SECONDS + drain.CLEANUP_SECONDS + RELAY_FLUSH_SECONDS + CLOSE_SECONDS


def serve(service: Service) -> None:
    """Run one service process: tracing, HTTP on CCHC_SERVICE_PORT, and on SIGTERM (or Ctrl-C) a
    drained stop within STOP_SECONDS, after which the process exits 0."""
    import signal
    from collections.abc import Iterator

    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn raises the signal again once it has shut down, so the process would die of
            # it (-15) after a clean drain: a stop that was asked for and done is a clean exit
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {service.name} %(levelname)s %(name)s: %(message)s")
    setup_tracing(service.name, service.settings)
    server = Server(
        uvicorn.Config(
            service.build_app(),
            host=service.settings.service_host,
            port=service.settings.service_port,
            log_level="warning",
            timeout_graceful_shutdown=HTTP_DRAIN_SECONDS,
        )
    )
    server.run()
    if not server.started:  # as uvicorn.run: a service that could not start exits non-zero
        raise SystemExit(3)
