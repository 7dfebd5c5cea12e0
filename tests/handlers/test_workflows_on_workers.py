"""The real registry on a real worker: a chat reply through a retry, logged as JSON without secrets."""

from pathlib import Path

import redis

from config import Settings
from handlers.services import Services
from handlers.services.signing import verify
from tests.handlers.chat_jobs import chat_task, run_until
from tests.handlers.conftest import AI_TOKEN
from tests.support.http_stub import Answer, HttpStub
from tests.support.log_lines import json_log_lines


def test_a_chat_job_survives_a_503_and_logs_every_attempt_without_secrets(
    handler_settings: Settings,
    services: Services,
    stub: HttpStub,
    redis_conn: redis.Redis,
    handler_env: dict[str, str],
    tmp_path: Path,
) -> None:
    stub.script("/v1/chat", Answer(503, "try later"), Answer(200, {"reply": "Done."}))
    subscription = services.db.subscriptions.create(
        "acme", stub.script("/hook", Answer(200)), ["chat.response"]
    )
    task_id, message_id = chat_task(services, redis_conn, backoff_scale=0.01)
    output = run_until("finished", redis_conn, task_id, handler_env, tmp_path / "worker.log")

    assert services.db.chat.get_message(message_id)["status"] == "completed"
    assert len(stub.to("/v1/chat")) == 2
    (hook,) = stub.to("/hook")
    verify(subscription["secret"], hook.body, hook.headers["X-Fraiday-Signature"])

    lines = json_log_lines(output)
    task_lines = [line for line in lines if line.get("task_id") == task_id]
    outcomes = [(line["attempt"], line.get("outcome")) for line in task_lines if "outcome" in line]
    assert outcomes == [(1, "retrying"), (2, "succeeded")]
    for line in task_lines:
        assert (line["task_type"], line["queue"]) == ("chat:workflow", "chat_workflow")
    assert all(isinstance(line["duration_ms"], float) for line in task_lines if "outcome" in line)
    assert AI_TOKEN not in output
    assert subscription["secret"] not in output
