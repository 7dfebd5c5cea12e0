"""Optional OpenTelemetry tracing, off unless the standard ``OTEL_TRACES_EXPORTER`` variable asks for it.

``OTEL_TRACES_EXPORTER=otlp`` sends spans to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (HTTP/protobuf);
``console`` prints one JSON line per span. ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` are
read by the SDK itself. The code everywhere else uses only the OpenTelemetry API, whose no-op tracer
costs nearly nothing while tracing is off. Call this after a fork (in each gunicorn worker and each
slot): the span processor's export thread must belong to the process that records the spans.
"""

import os
import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

EXPORTER_ENV = "OTEL_TRACES_EXPORTER"


def _one_line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + "\n"


def _processor_from_environment() -> SpanProcessor | None:
    choice = os.environ.get(EXPORTER_ENV, "none").strip().lower()
    if choice == "console":
        return SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stdout, formatter=_one_line))
    if choice == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return BatchSpanProcessor(OTLPSpanExporter())
    return None


def configure_tracing(service_name: str, exporter: SpanExporter | None = None) -> bool:
    """Install a tracer provider if tracing is asked for (or ``exporter`` is given); say whether it is on."""
    processor = SimpleSpanProcessor(exporter) if exporter is not None else _processor_from_environment()
    if processor is None:
        return False
    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    )
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return True
