"""An expected, permanent failure is one log line with its reason, never a traceback; a worker that
serves chat without an AI service says so once, at start."""

import signal
from pathlib import Path

import redis

from config import Settings
from handlers.services import Services
from tests.handlers.chat_jobs import chat_task, run_until
from tests.processes import fraiday, wait_for
from tests.support.http_stub import Answer, HttpStub
from tests.support.log_lines import json_log_lines

NOT_CONFIGURED = "AI_SERVICE_URL is not set"


def log_lines(output: str) -> list[dict[str, object]]:
    assert "Traceback" not in output, output[-3000:]
    return json_log_lines(output)


def test_a_4xx_from_the_ai_service_is_one_line_with_the_reason(
    handler_settings: Settings,
    services: Services,
    stub: HttpStub,
    redis_conn: redis.Redis,
    handler_env: dict[str, str],
    tmp_path: Path,
) -> None:
    stub.script("/v1/chat", Answer(422, {"detail": "message too long"}))
    task_id, message_id = chat_task(services, redis_conn)
    output = run_until("failed", redis_conn, task_id, handler_env, tmp_path / "worker.log")

    assert len(stub.to("/v1/chat")) == 1, "a permanent failure is not retried"
    errors = [line for line in log_lines(output) if line["level"] in ("ERROR", "CRITICAL")]
    assert [(e["logger"], e.get("task_id"), e.get("outcome")) for e in errors] == [
        ("fraiday.task", task_id, "failed")
    ]
    assert "AI service answered 422" in str(errors[0]["message"])
    assert "message too long" in str(errors[0]["message"])
    assert services.db.chat.get_message(message_id)["status"] == "failed"


def test_chat_without_an_ai_service_warns_once_at_start_and_fails_in_one_line(
    services: Services, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    task_id, _ = chat_task(services, redis_conn)
    output = run_until("failed", redis_conn, task_id, env, tmp_path / "worker.log")

    lines = log_lines(output)
    warnings = [
        line for line in lines if "AI_SERVICE_URL" in str(line["message"]) and line["level"] == "WARNING"
    ]
    assert len(warnings) == 1 and warnings[0]["logger"] == "fraiday.worker"
    assert "chat_workflow" in str(warnings[0]["message"])
    started = next(i for i, line in enumerate(lines) if line.get("task_id") == task_id)
    assert lines.index(warnings[0]) < started, "the warning comes at start, before any job"
    errors = [line for line in lines if line["level"] in ("ERROR", "CRITICAL")]
    assert [(e.get("task_id"), e.get("outcome")) for e in errors] == [(task_id, "failed")]
    assert NOT_CONFIGURED in str(errors[0]["message"])


def test_a_worker_not_serving_chat_does_not_warn_about_the_ai_service(
    env: dict[str, str], tmp_path: Path
) -> None:
    with fraiday(["worker", "--queue", "events"], env, tmp_path / "worker.log") as worker:
        wait_for(lambda: "starting 1 slot(s)" in worker.output(), 20, what="start")
        wait_for(lambda: len(worker.children()) == 1, 20, what="the slot")
        worker.stop(signal.SIGTERM)
    assert "AI_SERVICE_URL" not in worker.output()
