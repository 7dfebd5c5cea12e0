"""With tracing on, one API request yields one trace: request, enqueue, worker task, AI call, webhook."""

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fraiday_cli.observability.tracing import configure_tracing
from fraiday_cli.server.app import create_app
from tests.conftest import settings_from
from tests.processes import fraiday, wait_for
from tests.server.conftest import AUTH
from tests.support.http_stub import Answer, http_stub

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="session")
def exporter() -> InMemorySpanExporter:
    """The test process's tracer provider can be set once; every tracing test shares it."""
    assert configure_tracing("fraiday-test", exporter=_EXPORTER)
    return _EXPORTER


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exporter.clear()
    yield exporter


def test_a_request_s_trace_follows_its_job_into_the_worker(
    spans: InMemorySpanExporter, api_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with http_stub() as ai:
        ai.script("/v1/chat", Answer(200, {"reply": "traced"}))
        env = {**api_env, "AI_SERVICE_URL": ai.url, "OTEL_TRACES_EXPORTER": "console"}
        api = create_app(settings_from(env, monkeypatch)).test_client()
        session_id = api.post("/api/v1/sessions", json={"client_id": "acme"}, headers=AUTH).json["session_id"]
        spans.clear()
        posted = api.post(f"/api/v1/sessions/{session_id}/messages", json={"content": "hi"}, headers=AUTH)
        task_url = f"/api/v1/tasks/{posted.json['task_id']}"
        with fraiday(["worker", "--queue", "chat_workflow"], env, tmp_path / "worker.log") as worker:
            wait_for(
                lambda: api.get(task_url, headers=AUTH).json["status"] == "finished", 30, what="finished"
            )
            worker.stop(signal.SIGTERM)
        traceparent = ai.to("/v1/chat")[0].headers["traceparent"]  # the AI service can join the trace

    local = {span.name: span for span in spans.get_finished_spans()}
    request_span = local["POST /api/v1/sessions/<session_id>/messages"]
    enqueue_span = local["enqueue chat:workflow"]
    trace_id = f"0x{request_span.context.trace_id:032x}"
    assert enqueue_span.context.trace_id == request_span.context.trace_id
    assert enqueue_span.parent is not None and enqueue_span.parent.span_id == request_span.context.span_id

    remote: dict[str, dict[str, Any]] = {}
    for line in worker.output().splitlines():
        if line.startswith('{"name"'):
            span = json.loads(line)
            remote[span["name"]] = span
    task_span, ai_span = remote["task chat:workflow"], remote["ai reply"]
    assert task_span["context"]["trace_id"] == trace_id
    assert task_span["parent_id"] == f"0x{enqueue_span.context.span_id:016x}"
    assert ai_span["context"]["trace_id"] == trace_id
    assert ai_span["parent_id"] == task_span["context"]["span_id"]
    assert traceparent.split("-")[1] == trace_id[2:]
