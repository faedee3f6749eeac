"""OpenTelemetry set-up: one tracer provider per process; console or OTLP export by setting.

Trace context travels HTTP → outbox row (traceparent) → NATS headers → handler → next outbox.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from shared.settings import Settings


def setup_tracing(service: str, settings: Settings, *, extra: SpanProcessor | None = None) -> TracerProvider:
    """Install the process's tracer provider (once); later calls return the existing one."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        if extra is not None:
            current.add_span_processor(extra)
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": f"cchc-{service}"}))
    if settings.otel_exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif settings.otel_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = (settings.otlp_endpoint or "http://localhost:4318").rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if extra is not None:
        provider.add_span_processor(extra)
    trace.set_tracer_provider(provider)
    return provider
