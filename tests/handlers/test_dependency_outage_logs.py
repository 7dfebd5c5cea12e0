"""A task failing because MongoDB is unreachable says so in one line per attempt, not a traceback each.

The task's own ``task attempt failed`` line names the error and the outcome; RQ's copy of the same
failure, with its traceback, only buried it (about 70 lines per attempt)."""

import signal
from pathlib import Path

import redis

from fraiday_cli.tasks.client import TaskClient
from handlers.task_types import REGISTRY
from tests.harness.process import free_port
from tests.processes import fraiday, wait_for
from tests.support.log_lines import json_log_lines

EVENT = {"event_id": "e-1", "client_id": "acme", "event_type": "order.created", "entity_type": "order"}


def test_an_unreachable_mongodb_is_one_line_per_attempt(
    env: dict[str, str], redis_conn: redis.Redis, tmp_path: Path
) -> None:
    unreachable = {**env, "MONGODB_URI": f"mongodb://127.0.0.1:{free_port()}/x"}
    task = TaskClient(redis_conn, REGISTRY, backoff_scale=0.01).enqueue(
        "event:process", {**EVENT, "payload": {}}
    )
    with fraiday(
        ["worker", "--queue", "events", "--concurrency", "1"], unreachable, tmp_path / "w.log"
    ) as worker:

        def failed_attempts() -> int:
            return worker.output().count("task attempt failed")

        wait_for(lambda: failed_attempts() >= 2, 90, what="two failed attempts")
        worker.stop(signal.SIGTERM)
    output = worker.output()
    assert "Traceback" not in output, output[-3000:]
    attempts = [
        line
        for line in json_log_lines(output)
        if line.get("task_id") == task.task_id and line["message"].startswith("task attempt failed")
    ]
    assert len(attempts) >= 2
    assert all("ServerSelectionTimeoutError" in line["message"] for line in attempts)
    assert {line["outcome"] for line in attempts} == {"retrying"}
