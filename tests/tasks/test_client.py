"""The task client: validation before Redis, deduplication, unique types and scheduling."""

import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from config import Settings
from fraiday_cli.tasks.client import TaskClient
from handlers.errors import PayloadError, UnknownTaskType
from tests.processes import TEST_REGISTRY, fraiday, wait_for
from tests.support.tasks import EFFECTS, REGISTRY


def test_an_invalid_payload_never_reaches_redis(settings: Settings, redis_conn: redis.Redis) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    with pytest.raises(PayloadError) as raised:
        client.enqueue("test:flaky", {"key": 1, "failures": "2", "surprise": 0})
    assert raised.value.errors == {
        "key": "Input should be a valid string",
        "failures": "Input should be a valid integer",
        "surprise": "unknown field",
    }
    with pytest.raises(UnknownTaskType, match="unknown task type 'nope'"):
        client.enqueue("nope", {})
    assert redis_conn.keys("rq:*") == []


def test_the_same_task_id_is_enqueued_once(settings: Settings, redis_conn: redis.Redis) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    first = client.enqueue("test:count", {"key": "a"}, task_id="celery-123")
    second = client.enqueue("test:count", {"key": "a"}, task_id="celery-123")
    assert (first.duplicate, second.duplicate) == (False, True)
    assert redis_conn.lrange("rq:queue:events", 0, -1) == [b"celery-123"]


def test_a_unique_task_is_not_enqueued_twice_while_pending(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    first = client.enqueue("test:unique", {"key": "client-1", "seconds": 1.0})
    again = client.enqueue("test:unique", {"key": "client-1", "seconds": 1.0})
    other = client.enqueue("test:unique", {"key": "client-2", "seconds": 1.0})
    assert again.duplicate and again.task_id == first.task_id
    assert not other.duplicate
    worker_args = ["worker", "-q", "semantic_layer", "--registry", TEST_REGISTRY]
    with fraiday(worker_args, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: redis_conn.hget(f"rq:job:{first.task_id}", "status") == b"started", 10, what="start")
        running = client.enqueue("test:unique", {"key": "client-1", "seconds": 1.0})
        assert running.duplicate and running.task_id == first.task_id
        wait_for(lambda: redis_conn.hget(EFFECTS, "client-2") == b"1", 15, what="both done")
        after = client.enqueue("test:unique", {"key": "client-1", "seconds": 0.0})
        assert not after.duplicate and after.task_id != first.task_id
        wait_for(lambda: redis_conn.hget(EFFECTS, "client-1") == b"2", 15, what="second run")
        worker.stop(signal.SIGTERM)


def test_a_task_scheduled_in_two_seconds_runs_then_and_not_before(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    with fraiday(["worker", "-q", "events", "--registry", TEST_REGISTRY], env, tmp_path / "w.log") as worker:
        # Due jobs move once the pool's maintenance holds the scheduler lock: the upper bound starts then.
        wait_for(lambda: redis_conn.exists("rq:scheduler-lock:events"), 20, what="the scheduler lock")
        enqueued_at = time.time()
        task = client.enqueue("test:count", {"key": "later"}, delay=timedelta(seconds=2))
        assert redis_conn.hget(f"rq:job:{task.task_id}", "status") == b"scheduled"
        wait_for(lambda: redis_conn.hget(EFFECTS, "later") == b"1", 10, what="scheduled run")
        ran_after = time.time() - enqueued_at
        worker.stop(signal.SIGTERM)
    assert 2.0 <= ran_after < 4.5
