"""What a real worker logs about a job: each AI call, each webhook delivery, each MongoDB command."""

from pathlib import Path

import redis

from config import Settings
from handlers.services import Services
from tests.handlers.chat_jobs import chat_task, run_until
from tests.support.http_stub import Answer, HttpStub
from tests.support.log_lines import json_log_lines

TASK_FIELDS = ("task_id", "task_type", "queue", "attempt")


def test_a_chat_job_logs_its_ai_calls_delivery_and_database_operations(
    handler_settings: Settings,
    services: Services,
    stub: HttpStub,
    redis_conn: redis.Redis,
    handler_env: dict[str, str],
    tmp_path: Path,
) -> None:
    stub.script("/v1/chat", Answer(503, "try later"), Answer(200, {"reply": "Done."}))
    services.db.subscriptions.create("acme", stub.script("/hook", Answer(200)), ["chat.response"])
    task_id, _ = chat_task(services, redis_conn, backoff_scale=0.01)
    env = {**handler_env, "LOG_LEVEL": "DEBUG"}
    lines = json_log_lines(run_until("finished", redis_conn, task_id, env, tmp_path / "worker.log"))

    mine = [line for line in lines if line.get("task_id") == task_id]
    for line in mine:
        assert (line["task_type"], line["queue"]) == ("chat:workflow", "chat_workflow"), line

    ai = [line for line in mine if line["logger"] == "fraiday.ai"]
    assert [(line["level"], line["attempt"], line["call"], line["status"]) for line in ai] == [
        ("INFO", 1, "reply", "503"),
        ("INFO", 2, "reply", "200"),
    ]
    assert all(line["duration_ms"] > 0 for line in ai)

    (delivery,) = [line for line in mine if line["logger"] == "fraiday.webhooks"]
    assert delivery["level"] == "INFO"
    assert (delivery["event_type"], delivery["delivery_status"], delivery["status_code"]) == (
        "chat.response",
        "delivered",
        200,
    )
    assert delivery["attempt"] == 2 and delivery["duration_ms"] > 0

    database = [line for line in mine if line["logger"] == "fraiday.mongodb"]
    assert database, "no MongoDB line carries the task's fields"
    assert {line["level"] for line in database} == {"DEBUG"}
    assert all(isinstance(line["duration_ms"], float) and line["outcome"] == "ok" for line in database)
    operations = {(line["operation"], line["collection"]) for line in database}
    assert any(collection == "chat_messages" for _, collection in operations), operations
    assert all(field in line for line in database for field in TASK_FIELDS)


def test_at_info_no_database_lines_are_written(
    handler_settings: Settings,
    services: Services,
    stub: HttpStub,
    redis_conn: redis.Redis,
    handler_env: dict[str, str],
    tmp_path: Path,
) -> None:
    stub.script("/v1/chat", Answer(200, {"reply": "Done."}))
    task_id, _ = chat_task(services, redis_conn)
    lines = json_log_lines(run_until("finished", redis_conn, task_id, handler_env, tmp_path / "worker.log"))
    assert [line["status"] for line in lines if line["logger"] == "fraiday.ai"] == ["200"]
    assert not [line for line in lines if line["logger"] == "fraiday.mongodb"]
