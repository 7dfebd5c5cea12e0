"""A server span per request, continuing a caller's trace (``traceparent``) when one is sent.

The span is current while the route runs, so the task client puts its context into the job and the
worker's spans join the same trace.
"""

from flask import Flask, Response, g, request
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind

from handlers.tracing import tracer


def _start() -> None:
    route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
    span = tracer.start_span(
        f"{request.method} {route}", context=propagate.extract(dict(request.headers)), kind=SpanKind.SERVER
    )
    span.set_attribute("http.request.method", request.method)
    span.set_attribute("http.route", route)
    g.trace_span = span
    g.trace_token = context.attach(trace.set_span_in_context(span))


def _status(response: Response) -> Response:
    span = g.get("trace_span")
    if span is not None:
        span.set_attribute("http.response.status_code", response.status_code)
    return response


def _end(exc: BaseException | None) -> None:
    token = g.pop("trace_token", None)
    if token is not None:
        context.detach(token)
    span = g.pop("trace_span", None)
    if span is not None:
        span.end()


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_status)
    app.teardown_request(_end)
