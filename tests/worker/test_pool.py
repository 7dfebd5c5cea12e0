"""The worker pool on real Redis, with real forked slots."""

import os
import signal
import time
from pathlib import Path

import redis

from config import Settings
from fraiday_cli.tasks.client import TaskClient
from tests.processes import TEST_REGISTRY, fraiday, settled, wait_for
from tests.support.tasks import EFFECTS, REGISTRY, STARTED

WORKER = ["worker", "--queue", "events", "--concurrency", "2", "--registry", TEST_REGISTRY]


def effects(conn: redis.Redis) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in conn.hgetall(EFFECTS).items()}


def test_a_thousand_jobs_run_exactly_once_on_two_slots(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    for i in range(1000):
        client.enqueue("test:count", {"key": f"job-{i}"})
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: len(worker.children()) >= 2, 10, what="two slots")
        assert len(worker.children()) == 2
        wait_for(lambda: redis_conn.hlen(EFFECTS) == 1000, 60, what="1000 effects")
        wait_for(lambda: settled(redis_conn, ["events"]), 30, what="no job left to run")
        assert worker.stop(signal.SIGTERM, timeout=10) == 0
    counts = effects(redis_conn)
    assert len(counts) == 1000
    assert set(counts.values()) == {1}


def test_sigterm_lets_the_running_job_finish_and_exits_zero(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    TaskClient(redis_conn, REGISTRY).enqueue("test:sleep", {"key": "slow", "seconds": 2.0})
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: redis_conn.llen(STARTED + "slow") == 1, 10, what="job start")
        started = time.monotonic()
        assert worker.stop(signal.SIGTERM, timeout=15) == 0
        assert time.monotonic() - started < 5 + 2  # within the grace period (5 s in tests)
    assert effects(redis_conn) == {"slow": 1}


def test_a_job_outliving_the_grace_period_is_put_back_on_its_queue(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:sleep", {"key": "long", "seconds": 20.0})
    env = {**env, "FRAIDAY_WORKER_GRACE_SECONDS": "1"}
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: redis_conn.llen(STARTED + "long") == 1, 10, what="job start")
        assert worker.stop(signal.SIGTERM, timeout=15) == 0
    assert effects(redis_conn) == {}
    assert redis_conn.lrange("rq:queue:events", 0, -1) == [task.task_id.encode()]
    assert redis_conn.hget(f"rq:job:{task.task_id}", "status") == b"queued"
    assert redis_conn.hget(f"rq:job:{task.task_id}", "retries_left") == b"2"


def test_a_killed_slot_s_job_is_recovered_and_finishes_once(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    TaskClient(redis_conn, REGISTRY).enqueue("test:sleep", {"key": "victim", "seconds": 2.0})
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: redis_conn.llen(STARTED + "victim") == 1, 10, what="job start")
        pid = int(redis_conn.lindex(STARTED + "victim", 0).split(b":")[0])
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        # FRAIDAY_RECOVERY_SECONDS=6 in tests: the lease (3 s) expires and a sweep (every 1 s) requeues it.
        wait_for(lambda: effects(redis_conn).get("victim") == 1, 6 + 2 + 5, what="recovered job")
        assert time.monotonic() - killed_at < 6 + 2 + 5
        wait_for(lambda: settled(redis_conn, ["events"]), 15, what="no job left to run")
        assert worker.stop(signal.SIGTERM, timeout=15) == 0
    assert effects(redis_conn) == {"victim": 1}
    assert redis_conn.llen(STARTED + "victim") == 2
