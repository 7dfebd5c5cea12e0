"""Retries with backoff, permanent failures, timeouts, dead letters and requeue, on real workers."""

import json
import signal
import subprocess
import zlib
from pathlib import Path

import redis
from rq.job import Job

from config import Settings
from fraiday_cli.tasks.client import TaskClient
from handlers.wire_format import JOB_FUNCTION, SERIALIZER
from tests.processes import FRAIDAY, TEST_REGISTRY, fraiday, wait_for
from tests.support.tasks import ATTEMPTS, EFFECTS, REGISTRY

WORKER = ["worker", "--queue", "events", "--concurrency", "2", "--registry", TEST_REGISTRY]


def status(conn: redis.Redis, task_id: str) -> str | None:
    value = conn.hget(f"rq:job:{task_id}", "status")
    return value.decode() if value else None


def attempts(conn: redis.Redis, key: str) -> list[tuple[int, float]]:
    rows = [row.decode().split(":") for row in conn.lrange(ATTEMPTS + key, 0, -1)]
    return [(int(a), float(t)) for a, t in rows]


def test_a_job_failing_twice_finishes_on_the_third_attempt_after_backoff(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:flaky", {"key": "f", "failures": 2})
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: status(redis_conn, task.task_id) == "finished", 30, what="finished")
        worker.stop(signal.SIGTERM)
    runs = attempts(redis_conn, "f")
    assert [a for a, _ in runs] == [1, 2, 3]
    # Backoff 1 s then 2 s (no jitter in the probe registry); the scheduler polls every second.
    assert runs[1][1] - runs[0][1] >= 0.9
    assert runs[2][1] - runs[1][1] >= 1.9
    assert redis_conn.hget(EFFECTS, "f") == b"1"


def test_a_retry_is_never_due_before_its_backoff_whatever_the_moment_it_failed(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """RQ's scheduled registry truncates to whole seconds: a retry 1 s after a failure at x.7 s was due at
    x+1, 0.3 s later (the suite's earlier backoff test failed that way about once in ten runs)."""
    tasks = TaskClient(redis_conn, REGISTRY)
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        for key in ("due0", "due1", "due2"):
            task_id = tasks.enqueue("test:flaky", {"key": key, "failures": 1}).task_id
            wait_for(lambda: status(redis_conn, task_id) == "scheduled", 30, what="retry scheduled")  # noqa: B023
            due = redis_conn.zscore("rq:scheduled:events", task_id)
            assert due is not None
            (_, failed_after), *_ = attempts(redis_conn, key)
            assert due >= failed_after + 1.0, (due, failed_after)
            wait_for(lambda: status(redis_conn, task_id) == "finished", 30, what="finished")  # noqa: B023
            assert attempts(redis_conn, key)[1][1] >= due
        worker.stop(signal.SIGTERM)


def test_a_job_that_always_fails_goes_to_failed_and_requeue_runs_it_again(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:flaky", {"key": "dead", "failures": 99})
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: status(redis_conn, task.task_id) == "failed", 30, what="failed")
        assert [a for a, _ in attempts(redis_conn, "dead")] == [1, 2, 3]
        job = Job.fetch(task.task_id, connection=redis_conn, serializer=SERIALIZER)
        assert "planned failure 3" in (job.latest_result().exc_string or "")

        requeue = subprocess.run(
            [*FRAIDAY, "requeue", "--queue", "events", "--all", "--registry", TEST_REGISTRY],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert requeue.returncode == 0, requeue.stderr
        assert requeue.stdout.split() == [task.task_id]
        # A fresh budget: three more attempts, then failed again.
        wait_for(lambda: len(attempts(redis_conn, "dead")) == 6, 30, what="three more attempts")
        wait_for(lambda: status(redis_conn, task.task_id) == "failed", 10, what="failed again")
        worker.stop(signal.SIGTERM)


def test_a_job_past_its_timeout_is_stopped_and_counted_as_an_attempt(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:slow_timeout", {"key": "t", "seconds": 5})
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: status(redis_conn, task.task_id) == "failed", 30, what="failed after timeouts")
        worker.stop(signal.SIGTERM)
    assert redis_conn.llen("test:started:t") == 2  # max_attempts=2, each stopped after 1 s
    assert redis_conn.hget(EFFECTS, "t") is None
    job = Job.fetch(task.task_id, connection=redis_conn, serializer=SERIALIZER)
    assert "JobTimeoutException" in (job.latest_result().exc_string or "")


def test_a_malformed_job_written_into_redis_fails_once_with_the_validation_message(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    queue = TaskClient(redis_conn, REGISTRY)
    good = queue.enqueue("test:count", {"key": "x"})
    # Forge a job by hand, as anyone with Redis access could: same shape, bad payload.
    forged: list[object] = [
        JOB_FUNCTION,
        None,
        ["test:count", {"key": 12, "extra": True}],
        {},
    ]
    redis_conn.hset(f"rq:job:{good.task_id}", "data", zlib.compress(json.dumps(forged).encode()))
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: status(redis_conn, good.task_id) == "failed", 20, what="failed")
        worker.stop(signal.SIGTERM)
    job = Job.fetch(good.task_id, connection=redis_conn, serializer=SERIALIZER)
    message = job.latest_result().exc_string or ""
    assert "invalid payload for test:count" in message
    assert "key: Input should be a valid string" in message
    assert "extra: unknown field" in message
    assert job.retries_left == 0
    assert redis_conn.hget(EFFECTS, "x") is None
    log = (tmp_path / "worker.log").read_text()
    assert log.count("task started") == 1


def test_pickled_jobs_are_never_unpickled(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    good = TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "p"})
    marker = tmp_path / "pwned"
    # A pickle that would create a file if it were ever loaded.
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    redis_conn.hset(f"rq:job:{good.task_id}", "data", payload)
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: status(redis_conn, good.task_id) == "failed", 20, what="failed")
        worker.stop(signal.SIGTERM)
    assert not marker.exists()
    assert redis_conn.hget(EFFECTS, "p") is None


def test_jobs_are_stored_as_json(settings: Settings, redis_conn: redis.Redis) -> None:
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "j"})
    raw = redis_conn.hget(f"rq:job:{task.task_id}", "data")
    assert raw is not None
    decoded = json.loads(zlib.decompress(raw))
    assert decoded[0] == JOB_FUNCTION
    assert decoded[2] == ["test:count", {"key": "j"}]
