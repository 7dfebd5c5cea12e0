"""The real registry on a real worker: a chat reply through a retry, logged as JSON without secrets."""

import signal
from pathlib import Path

import redis

from config import Settings
from fraiday_cli.tasks.client import TaskClient
from handlers.services import Services
from handlers.services.signing import verify
from handlers.task_types import REGISTRY
from tests.handlers.conftest import AI_TOKEN
from tests.processes import fraiday, wait_for
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
    session = services.db.chat.create_session("acme")
    message = services.db.chat.add_user_message(session, "Hi", suggestion_mode=False)
    subscription = services.db.subscriptions.create(
        "acme", stub.script("/hook", Answer(200)), ["chat.response"]
    )
    task = TaskClient(redis_conn, REGISTRY, backoff_scale=0.01).chat_workflow(
        str(message["_id"]), str(session["_id"])
    )

    worker_args = ["worker", "--queue", "chat_workflow", "--concurrency", "1"]
    with fraiday(worker_args, handler_env, tmp_path / "worker.log") as worker:
        wait_for(
            lambda: redis_conn.hget(f"rq:job:{task.task_id}", "status") == b"finished", 30, what="finished"
        )
        worker.stop(signal.SIGTERM)
        output = worker.output()

    assert services.db.chat.get_message(message["_id"])["status"] == "completed"
    assert len(stub.to("/v1/chat")) == 2
    (hook,) = stub.to("/hook")
    verify(subscription["secret"], hook.body, hook.headers["X-Fraiday-Signature"])

    lines = json_log_lines(output)
    task_lines = [line for line in lines if line.get("task_id") == task.task_id]
    outcomes = [(line["attempt"], line.get("outcome")) for line in task_lines if "outcome" in line]
    assert outcomes == [(1, "retrying"), (2, "succeeded")]
    for line in task_lines:
        assert (line["task_type"], line["queue"]) == ("chat:workflow", "chat_workflow")
    assert all(isinstance(line["duration_ms"], float) for line in task_lines if "outcome" in line)
    assert AI_TOKEN not in output
    assert subscription["secret"] not in output
