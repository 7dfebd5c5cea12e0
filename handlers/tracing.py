"""Trace context in job metadata: the enqueueing span's context travels with the job to the worker."""

from collections.abc import Mapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context

from handlers.wire_format import TRACE_META

tracer = trace.get_tracer("fraiday")


def current_carrier() -> dict[str, str]:
    """The current trace context as W3C headers (empty when tracing is off)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from(meta: Mapping[str, Any]) -> Context:
    carrier = meta.get(TRACE_META)
    return propagate.extract(carrier if isinstance(carrier, dict) else {})
