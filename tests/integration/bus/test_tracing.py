"""One OpenTelemetry trace follows a request from HTTP through the events into the other services."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.telemetry import setup_tracing
from tests.integration.conftest import System
from tests.integration.plans_data import QUARTERLY_PLAN

pytestmark = pytest.mark.integration

EXPORTER = InMemorySpanExporter()


@pytest.fixture(autouse=True)
def traced(settings: object) -> None:
    setup_tracing("tests", settings, extra=SimpleSpanProcessor(EXPORTER))  # type: ignore[arg-type]
    EXPORTER.clear()


async def test_issuing_a_plan_is_one_trace_from_http_to_tasks_notify_and_reports(system: System) -> None:
    await system.post("/api/units/load", json={"source": "vietnam-provinces", "provinces": ["52"]})
    plan_id = (await system.post("/api/plans", json=QUARTERLY_PLAN)).json()["id"]
    EXPORTER.clear()
    await system.post(f"/api/plans/{plan_id}/issue")

    async def notified() -> list:
        return (await system.get("/api/notifications", params={"unit": "21787"})).json()["items"]

    await system.eventually(notified)

    def spans_named(fragment: str) -> list:
        return [s for s in EXPORTER.get_finished_spans() if fragment in s.name]

    async def all_handled() -> bool:
        return bool(
            spans_named("reports handle assignment.created") and spans_named("notify handle assignment.created")
        )

    await system.eventually(all_handled)
    http = [s for s in spans_named("/api/plans/{plan_id}/issue") if s.kind.name == "SERVER"]
    assert len(http) == 1
    # one span for the request, none for each ASGI message of it (http send / http receive)
    assert [s.name for s in spans_named("/api/plans/{plan_id}/issue") if s.kind.name != "SERVER"] == []
    trace_id = http[0].context.trace_id
    for name in ("tasks handle plan.issued", "notify handle assignment.created", "reports handle assignment.created"):
        assert {s.context.trace_id for s in spans_named(name)} == {trace_id}, name
    # the hops between services are NATS publishes and consumes, in the same trace
    hops = [
        s
        for s in EXPORTER.get_finished_spans()
        if s.attributes
        and s.attributes.get("messaging.system") == "nats"
        and any(t in s.name for t in (".plan.issued.", ".assignment.created."))
    ]
    assert {s.kind.name for s in hops} >= {"PRODUCER", "CONSUMER"}
    # A batched consumer (the reports read model) takes many events per fetch: faststream's
    # consume spans of a batch start their own trace and link to the events' traces; the
    # service's handler span (checked above) continues the request's trace.
    batches = {s.context.trace_id for s in hops if any(link.context.trace_id == trace_id for link in s.links)}
    assert {s.context.trace_id for s in hops if s.kind.name == "PRODUCER"} == {trace_id}
    assert {s.context.trace_id for s in hops} <= {trace_id} | batches
    assert any(s.context.trace_id == trace_id for s in hops if s.kind.name == "CONSUMER")  # tasks, notify
