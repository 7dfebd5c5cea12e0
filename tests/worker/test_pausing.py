"""Pause and resume are exact, on real workers at the default recovery time (a 30 s idle wait).

Whatever a slot was doing around a pause (idle in its blocking wait, holding a job it just popped, or
running one), each job runs exactly once after ``fraiday resume``, with its attempt count unchanged, and
starts within a second of the resume. "Once" is checked on the state a second run would come from: the
job is in no intermediate list and no scheduled registry, and RQ still holds its full retry budget.
"""

import signal
import time
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from config import Settings
from fraiday_cli.main import app
from fraiday_cli.tasks.client import TaskClient
from tests.processes import TEST_REGISTRY, fraiday, wait_for
from tests.support.tasks import ATTEMPTS, EFFECTS, REGISTRY, STARTED

runner = CliRunner()
DEFAULT_RECOVERY = {"FRAIDAY_RECOVERY_SECONDS": "60"}


def worker_args(*queues: str, concurrency: int = 1, threads: int = 1) -> list[str]:
    names = [arg for queue in queues for arg in ("--queue", queue)]
    counts = ["--concurrency", str(concurrency), "--threads", str(threads)]
    return ["worker", *names, *counts, "--registry", TEST_REGISTRY]


@pytest.fixture(params=[1, 4], ids=["one-thread", "job-threads"])
def threads(request: pytest.FixtureRequest) -> int:
    """Slots with job threads dequeue in their main thread exactly as one-thread slots do."""
    return int(request.param)


def cli(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def idle_slots(conn: redis.Redis) -> int:
    return sum(conn.hget(key, "state") == b"idle" for key in conn.smembers("rq:workers"))


def start_times(conn: redis.Redis, key: str) -> list[tuple[int, float]]:
    """(attempt, start time) of each run of a ``test:flaky`` job."""
    rows = [row.decode().split(":") for row in conn.lrange(ATTEMPTS + key, 0, -1)]
    return [(int(attempt), float(at)) for attempt, at in rows]


def resume_and_time_start(conn: redis.Redis, queue: str, key: str) -> float:
    """Resume ``queue`` and return how long the job ``key`` took to start after it."""
    resumed = time.time()
    cli("resume", "--queue", queue)
    wait_for(lambda: start_times(conn, key), 10, what=f"{key} to start")
    return start_times(conn, key)[0][1] - resumed


def assert_ran_once(conn: redis.Redis, task_id: str, key: str, queue: str) -> None:
    wait_for(lambda: conn.hget(f"rq:job:{task_id}", "status") == b"finished", 10, what="finished")
    assert [attempt for attempt, _ in start_times(conn, key)] == [1]
    assert conn.hget(EFFECTS, key) == b"1"
    assert conn.hget(f"rq:job:{task_id}", "retries_left") == b"2"  # the full budget of test:flaky (3)
    assert conn.lrange(f"rq:queue:{queue}:intermediate", 0, -1) == []
    assert conn.zcard(f"rq:scheduled:{queue}") == 0


def test_a_job_enqueued_while_paused_runs_once_within_a_second_of_resume(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path, threads: int
) -> None:
    cli("pause", "--queue", "events")
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:flaky", {"key": "queued", "failures": 0})
    with fraiday(
        worker_args("events", concurrency=2, threads=threads), {**env, **DEFAULT_RECOVERY}, tmp_path / "w.log"
    ) as w:
        wait_for(lambda: idle_slots(redis_conn) == 2, 15, what="two idle slots")
        assert redis_conn.lrange("rq:queue:events", 0, -1) == [task.task_id.encode()]
        assert resume_and_time_start(redis_conn, "events", "queued") < 1.0
        assert_ran_once(redis_conn, task.task_id, "queued", "events")
        w.stop(signal.SIGTERM)


def test_a_job_a_waiting_slot_pops_after_a_pause_is_put_back_and_runs_once_after_resume(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path, threads: int
) -> None:
    with fraiday(
        worker_args("events", threads=threads), {**env, **DEFAULT_RECOVERY}, tmp_path / "w.log"
    ) as w:
        wait_for(lambda: idle_slots(redis_conn) == 1, 15, what="an idle slot in its blocking wait")
        cli("pause", "--queue", "events")
        task = TaskClient(redis_conn, REGISTRY).enqueue("test:flaky", {"key": "popped", "failures": 0})
        wait_for(lambda: f"put {task.task_id} back" in w.output(), 10, what="the slot to put the job back")
        assert redis_conn.lrange("rq:queue:events", 0, -1) == [task.task_id.encode()]
        assert redis_conn.lrange("rq:queue:events:intermediate", 0, -1) == []
        assert start_times(redis_conn, "popped") == []
        assert resume_and_time_start(redis_conn, "events", "popped") < 1.0
        assert_ran_once(redis_conn, task.task_id, "popped", "events")
        w.stop(signal.SIGTERM)


def test_a_resume_during_a_slots_blocking_wait_on_its_other_queue_starts_the_job_within_a_second(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path, threads: int
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    cli("pause", "--queue", "semantic_layer")
    with fraiday(
        worker_args("events", "semantic_layer", threads=threads),
        {**env, **DEFAULT_RECOVERY},
        tmp_path / "w.log",
    ) as w:
        wait_for(lambda: idle_slots(redis_conn) == 1, 15, what="an idle slot waiting on events")
        # With one queue left, RQ pops through an intermediate list: the job must not stay in it.
        running = client.enqueue("test:flaky", {"key": "on-events", "failures": 0})
        assert_ran_once(redis_conn, running.task_id, "on-events", "events")

        wait_for(lambda: idle_slots(redis_conn) == 1, 10, what="the slot back in its wait")
        task = client.enqueue("test:flaky_sync", {"key": "resumed", "failures": 0})
        assert resume_and_time_start(redis_conn, "semantic_layer", "resumed") < 1.0
        assert_ran_once(redis_conn, task.task_id, "resumed", "semantic_layer")
        w.stop(signal.SIGTERM)


def test_a_pause_while_a_job_runs_lets_it_finish_once_and_holds_the_next(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path, threads: int
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    running = client.enqueue("test:sleep", {"key": "in-flight", "seconds": 1.5})
    with fraiday(
        worker_args("events", threads=threads), {**env, **DEFAULT_RECOVERY}, tmp_path / "w.log"
    ) as w:
        wait_for(lambda: redis_conn.llen(STARTED + "in-flight") == 1, 15, what="the job to start")
        cli("pause", "--queue", "events")
        held = client.enqueue("test:flaky", {"key": "held", "failures": 0})
        wait_for(lambda: redis_conn.hget(EFFECTS, "in-flight") == b"1", 10, what="the running job to end")
        wait_for(lambda: idle_slots(redis_conn) == 1, 10, what="the slot idle while paused")
        assert start_times(redis_conn, "held") == []
        assert redis_conn.lrange("rq:queue:events", 0, -1) == [held.task_id.encode()]

        assert resume_and_time_start(redis_conn, "events", "held") < 1.0
        assert_ran_once(redis_conn, held.task_id, "held", "events")
        assert redis_conn.llen(STARTED + "in-flight") == 1
        assert redis_conn.hget(f"rq:job:{running.task_id}", "status") == b"finished"
        w.stop(signal.SIGTERM)
