"""``fraiday worker --threads T``: every guarantee of a slot, per job thread, on real worker processes.

The jobs here call a loopback AI stub through the slot's shared client (``services.ai``), as a chat job
waits on the AI service.
"""

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from rq.job import Job

from config import Settings
from fraiday_cli.tasks.client import TaskClient
from handlers.wire_format import SERIALIZER
from tests.harness.process import free_port
from tests.harness.redis_server import RedisServer
from tests.observability.test_operations import sample
from tests.processes import FRAIDAY, TEST_REGISTRY, fraiday, settled, wait_for
from tests.support.http_stub import Answer, HttpStub, http_stub
from tests.support.mongo_staller import mongo_staller
from tests.support.tasks import ATTEMPTS, EFFECTS, REGISTRY, STARTED, THREADS
from tests.worker.test_poison_jobs import json_data, plant

SYNC_PATH = "/v1/semantic-layer/sync"
AI_SECONDS = 2.0


def worker_args(threads: int, concurrency: int = 1) -> list[str]:
    return [
        "worker",
        "--queue",
        "events",
        "--concurrency",
        str(concurrency),
        "--threads",
        str(threads),
        "--registry",
        TEST_REGISTRY,
    ]


@pytest.fixture
def ai() -> Iterator[HttpStub]:
    with http_stub() as stub:
        stub.script(SYNC_PATH, Answer(200, {"job_id": "j", "status": "queued"}, delay=AI_SECONDS))
        yield stub


@pytest.fixture
def ai_env(env: dict[str, str], ai: HttpStub) -> dict[str, str]:
    return {**env, "AI_SERVICE_URL": ai.url}


def effects(conn: redis.Redis) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in conn.hgetall(EFFECTS).items()}


def starts(conn: redis.Redis, key: str) -> list[tuple[int, float]]:
    rows = [row.decode().split(":") for row in conn.lrange(STARTED + key, 0, -1)]
    return [(int(pid), float(at)) for pid, at in rows]


def status(conn: redis.Redis, task_id: str) -> str | None:
    value = conn.hget(f"rq:job:{task_id}", "status")
    return value.decode() if value else None


def enqueue_ai_jobs(conn: redis.Redis, count: int, prefix: str = "ai") -> list[str]:
    client = TaskClient(conn, REGISTRY)
    return [client.enqueue("test:ai", {"key": f"{prefix}-{i}"}).task_id for i in range(count)]


def all_started(conn: redis.Redis, keys: list[str]) -> bool:
    return all(conn.llen(STARTED + key) for key in keys)


def test_t_threads_run_t_jobs_at_once_in_one_slot(
    settings: Settings, redis_conn: redis.Redis, ai_env: dict[str, str], ai: HttpStub, tmp_path: Path
) -> None:
    enqueue_ai_jobs(redis_conn, 8)
    keys = [f"ai-{i}" for i in range(8)]
    with fraiday(worker_args(threads=4), ai_env, tmp_path / "worker.log") as worker:
        wait_for(lambda: len(effects(redis_conn)) == 8, 30, what="8 AI jobs done")
        wait_for(lambda: settled(redis_conn, ["events"]), 10, what="no job left to run")
        slots = worker.children()
        assert worker.stop(signal.SIGTERM, timeout=15) == 0
    assert set(effects(redis_conn).values()) == {1}
    runs = sorted(starts(redis_conn, key)[0] for key in keys)
    assert {pid for pid, _ in runs} == set(slots) and len(slots) == 1
    # Two waves of four: each wave starts together, the second one AI call after the first.
    first, second = [at for _, at in runs[:4]], [at for _, at in runs[4:]]
    assert max(first) - min(first) < AI_SECONDS / 2
    assert min(second) - min(first) >= AI_SECONDS * 0.9
    threads = {redis_conn.lindex(THREADS + key, 0) for key in keys}
    assert len(threads) == 4
    # The four AI calls of a wave overlapped at the stub.
    received = sorted(request.received_at for request in ai.to(SYNC_PATH))
    assert len(received) == 8 and received[3] - received[0] < AI_SECONDS / 2


def test_a_job_past_its_timeout_in_a_job_thread_is_stopped_and_counted_as_an_attempt(
    settings: Settings, redis_conn: redis.Redis, ai_env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    task = client.enqueue("test:nap_timeout", {"key": "t", "seconds": 20})
    neighbours = enqueue_ai_jobs(redis_conn, 2, prefix="n")
    with fraiday(worker_args(threads=3), ai_env, tmp_path / "worker.log") as worker:
        wait_for(lambda: status(redis_conn, task.task_id) == "failed", 20, what="failed after timeouts")
        wait_for(lambda: all(status(redis_conn, n) == "finished" for n in neighbours), 10, what="neighbours")
        assert worker.stop(signal.SIGTERM, timeout=15) == 0
    runs = starts(redis_conn, "t")
    assert len(runs) == 2  # max_attempts=2, each stopped at its 1 s timeout, not after 20 s
    job = Job.fetch(task.task_id, connection=redis_conn, serializer=SERIALIZER)
    assert job.ended_at is not None
    assert "Task exceeded maximum timeout value (1 seconds)" in (job.latest_result().exc_string or "")
    assert redis_conn.hget(EFFECTS, "t") is None
    assert effects(redis_conn) == {"n-0": 1, "n-1": 1}


def test_sigterm_lets_the_job_of_every_thread_finish(
    settings: Settings, redis_conn: redis.Redis, ai_env: dict[str, str], tmp_path: Path
) -> None:
    keys = [f"ai-{i}" for i in range(6)]
    enqueue_ai_jobs(redis_conn, 6)
    with fraiday(worker_args(threads=3, concurrency=2), ai_env, tmp_path / "worker.log") as worker:
        wait_for(lambda: all_started(redis_conn, keys), 15, what="six jobs running")
        stopped = time.monotonic()
        assert worker.stop(signal.SIGTERM, timeout=15) == 0
        assert time.monotonic() - stopped < 5  # the grace period (5 s in tests)
    assert effects(redis_conn) == dict.fromkeys(keys, 1)
    assert settled(redis_conn, ["events"])


def test_past_the_grace_period_the_job_of_every_thread_is_put_back_without_using_an_attempt(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """The jobs wait on an AI call that outlasts the grace period: their socket reads are ended."""
    client = TaskClient(redis_conn, REGISTRY)
    long_tasks = [client.enqueue("test:ai", {"key": f"long-{i}"}) for i in range(3)]
    with http_stub() as slow_ai:
        slow_ai.script(SYNC_PATH, Answer(200, {"job_id": "j", "status": "queued"}, delay=30))
        slow_env = {**env, "AI_SERVICE_URL": slow_ai.url, "FRAIDAY_WORKER_GRACE_SECONDS": "1"}
        with fraiday(worker_args(threads=3), slow_env, tmp_path / "worker.log") as worker:
            wait_for(lambda: len(slow_ai.to(SYNC_PATH)) == 3, 15, what="three AI calls waiting")
            stopped = time.monotonic()
            assert worker.stop(signal.SIGTERM, timeout=20) == 0
            # Requeued by the slot at the end of the 1 s grace period, not killed 5 s after it.
            assert time.monotonic() - stopped < 1 + 4
            assert "killing" not in worker.output()
            assert worker.output().count("task attempt failed: ShutdownInterrupt: grace period over") == 3
    assert effects(redis_conn) == {}
    queued = {entry.decode() for entry in redis_conn.lrange("rq:queue:events", 0, -1)}
    assert queued == {task.task_id for task in long_tasks}
    for task in long_tasks:
        assert status(redis_conn, task.task_id) == "queued"
        assert redis_conn.hget(f"rq:job:{task.task_id}", "retries_left") == b"2"  # no attempt used


def test_a_killed_threaded_slot_s_jobs_are_all_recovered_and_finish_once(
    settings: Settings, redis_conn: redis.Redis, ai_env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    keys = [f"victim-{i}" for i in range(3)]
    for key in keys:
        client.enqueue("test:sleep", {"key": key, "seconds": 2.0})
    with fraiday(worker_args(threads=3), ai_env, tmp_path / "worker.log") as worker:
        wait_for(lambda: all_started(redis_conn, keys), 10, what="three jobs running")
        slot = starts(redis_conn, keys[0])[0][0]
        assert {starts(redis_conn, key)[0][0] for key in keys} == {slot}
        killed_at = time.monotonic()
        os.kill(slot, signal.SIGKILL)
        # FRAIDAY_RECOVERY_SECONDS=6 in tests: the leases (3 s) expire and a sweep (every 1 s) requeues them.
        wait_for(lambda: len(effects(redis_conn)) == 3, 6 + 2 + 5, what="recovered jobs")
        assert time.monotonic() - killed_at < 6 + 2 + 5
        wait_for(lambda: settled(redis_conn, ["events"]), 15, what="no job left to run")
        assert worker.stop(signal.SIGTERM, timeout=15) == 0
    assert effects(redis_conn) == dict.fromkeys(keys, 1)
    for key in keys:
        runs = starts(redis_conn, key)
        assert len(runs) == 2 and runs[0][0] == slot and runs[1][0] != slot


def test_a_whole_threaded_worker_killed_has_its_jobs_recovered_by_the_next_one(
    settings: Settings, redis_conn: redis.Redis, ai_env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    keys = [f"victim-{i}" for i in range(4)]
    tasks = [client.enqueue("test:sleep", {"key": key, "seconds": 2.0}) for key in keys]
    with fraiday(worker_args(threads=2, concurrency=2), ai_env, tmp_path / "first.log") as first:
        wait_for(lambda: all_started(redis_conn, keys), 10, what="four jobs running")
        os.killpg(first.pid, signal.SIGKILL)  # pool and slots at once: nobody left to requeue anything
        first.proc.wait(10)
    killed_at = time.monotonic()
    with fraiday(worker_args(threads=2), ai_env, tmp_path / "second.log") as second:
        # FRAIDAY_RECOVERY_SECONDS=6 in tests: back on the queue within it, then 2 s to run.
        wait_for(lambda: len(effects(redis_conn)) == 4, 6 + 2 + 5, what="recovered jobs")
        assert time.monotonic() - killed_at < 6 + 2 + 5
        wait_for(lambda: settled(redis_conn, ["events"]), 15, what="no job left to run")
        assert second.stop(signal.SIGTERM, timeout=15) == 0
    assert effects(redis_conn) == dict.fromkeys(keys, 1)
    for task in tasks:
        assert redis_conn.hget(f"rq:job:{task.task_id}", "retries_left") == b"1"  # the killed run used one


def test_a_job_ending_its_thread_does_not_stop_the_others(
    settings: Settings, redis_conn: redis.Redis, ai_env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    first = [f"ai-{i}" for i in range(2)]
    enqueue_ai_jobs(redis_conn, 2)
    exiting = client.enqueue("test:exit", {"key": "exit"})
    with fraiday(worker_args(threads=3), ai_env, tmp_path / "worker.log") as worker:
        wait_for(lambda: status(redis_conn, exiting.task_id) == "failed", 15, what="the exiting job failed")
        slot = starts(redis_conn, "exit")[0][0]
        wait_for(lambda: effects(redis_conn) == dict.fromkeys(first, 1), 15, what="its neighbours finished")
        # All three threads still serve: three more jobs run side by side in the same slot.
        later = [f"later-{i}" for i in range(3)]
        enqueue_ai_jobs(redis_conn, 3, prefix="later")
        wait_for(lambda: all(redis_conn.hget(EFFECTS, key) for key in later), 15, what="three more jobs")
        assert worker.stop(signal.SIGTERM, timeout=15) == 0
    assert {pid for key in [*first, *later] for pid, _ in starts(redis_conn, key)} == {slot}
    started = sorted(at for key in later for _, at in starts(redis_conn, key))
    assert started[-1] - started[0] < AI_SECONDS / 2
    job = Job.fetch(exiting.task_id, connection=redis_conn, serializer=SERIALIZER)
    assert "SystemExit" in (job.latest_result().exc_string or "")


@pytest.mark.parametrize("value", ["0", "101", "many", "-2", "1_0", "+5"])
def test_a_bad_thread_count_is_one_line_and_exit_2(env: dict[str, str], value: str) -> None:
    result = subprocess.run(
        [*FRAIDAY, "worker", "--threads", value, "--registry", TEST_REGISTRY],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"fraiday: --threads must be a whole number from 1 to 100, got {value!r}"
    ]


def test_with_job_threads_retries_dead_letters_poison_refusal_metrics_and_workers_hold(
    settings: Settings, redis_conn: redis.Redis, ai_env: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran-os-system"
    plant(redis_conn, "evil", "events", data=json_data("os.system", [f"touch {marker}"]))
    client = TaskClient(redis_conn, REGISTRY)
    flaky = client.enqueue("test:flaky", {"key": "f", "failures": 2})
    dead = client.enqueue("test:flaky", {"key": "dead", "failures": 99})
    enqueue_ai_jobs(redis_conn, 4)
    port = free_port()
    args = [*worker_args(threads=3, concurrency=2), "--metrics-port", str(port)]
    with fraiday(args, ai_env, tmp_path / "worker.log") as worker:
        wait_for(lambda: status(redis_conn, flaky.task_id) == "finished", 30, what="flaky finished")
        wait_for(lambda: status(redis_conn, dead.task_id) == "failed", 30, what="dead dead-lettered")
        wait_for(lambda: len(effects(redis_conn)) == 1 + 4, 30, what="the AI jobs")
        queues = subprocess.run(
            [*FRAIDAY, "queues", "--queue", "events", "--json", "--registry", TEST_REGISTRY],
            env=ai_env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert worker.stop(signal.SIGTERM, timeout=15) == 0
    assert json.loads(queues.stdout)[0]["workers"] == 2  # slots, each running up to 3 jobs
    assert not marker.exists()
    assert "evil" in {member.decode() for member in redis_conn.zrange("rq:failed:events", 0, -1)}
    assert sample(metrics, "fraiday_poison_jobs_total", queue="events", reason="function") == 1
    runs = [
        (int(a), float(t))
        for a, t in (r.decode().split(":") for r in redis_conn.lrange(ATTEMPTS + "f", 0, -1))
    ]
    assert [a for a, _ in runs] == [1, 2, 3]
    assert runs[1][1] - runs[0][1] >= 0.9 and runs[2][1] - runs[1][1] >= 1.9  # backoff 1 s, then 2 s
    assert redis_conn.llen(ATTEMPTS + "dead") == 3
    outcomes = {
        outcome: sample(
            metrics, "fraiday_tasks_total", task_type="test:flaky", queue="events", outcome=outcome
        )
        for outcome in ("succeeded", "retried", "failed")
    }
    assert outcomes == {"succeeded": 1, "retried": 2 + 2, "failed": 1}
    assert (
        sample(metrics, "fraiday_tasks_total", task_type="test:ai", queue="events", outcome="succeeded") == 4
    )


def test_a_slot_whose_threads_are_all_busy_past_the_heartbeat_ttl_stays_live(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """The main thread heartbeats while it waits for a free job thread, so long jobs in every thread
    never make the slot look hung to /livez (stale after the idle wait plus 15 s: 18 s in tests)."""
    client = TaskClient(redis_conn, REGISTRY)
    keys = ["long-0", "long-1"]
    for key in keys:
        client.enqueue("test:sleep", {"key": key, "seconds": 22.0})
    port = free_port()
    args = [*worker_args(threads=2), "--metrics-port", str(port)]
    with fraiday(args, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: all_started(redis_conn, keys), 10, what="both threads busy")
        started = max(at for key in keys for _, at in starts(redis_conn, key))
        wait_for(lambda: time.time() - started > 19, 25, interval=0.5, what="past the heartbeat TTL")
        live = requests.get(f"http://127.0.0.1:{port}/livez", timeout=5)
        assert redis_conn.hget(EFFECTS, "long-0") is None  # still running
        assert live.status_code == 200, live.text
        assert live.json()["stale"] == []
        worker.stop(signal.SIGTERM, timeout=30)


def test_a_threaded_worker_rides_out_a_redis_outage_while_every_thread_is_busy(
    settings: Settings, env: dict[str, str], tmp_path: Path
) -> None:
    """Every job ends done (a job whose outcome could not be written is recovered and runs again: at
    least once), and the worker takes new jobs once Redis is back."""
    own = RedisServer(tmp_path / "redis")
    own.start()
    try:
        conn = redis.Redis.from_url(own.url)
        keys = [f"busy-{i}" for i in range(3)]
        tasks = [TaskClient(conn, REGISTRY).enqueue("test:ai", {"key": key}) for key in keys]
        with http_stub() as slow_ai:
            slow_ai.script(SYNC_PATH, Answer(200, {"job_id": "j", "status": "queued"}, delay=3))
            outage_env = {**env, "REDIS_URL": own.url, "AI_SERVICE_URL": slow_ai.url}
            with fraiday(worker_args(threads=3), outage_env, tmp_path / "worker.log") as worker:
                wait_for(lambda: len(slow_ai.to(SYNC_PATH)) == 3, 15, what="every thread busy")
                own.stop()
                # Down until every job thread has failed to record its job's outcome.
                wait_for(
                    lambda: worker.output().count("lost Redis while running") == 3, 15, what="outcomes lost"
                )
                own.start()
                conn = redis.Redis.from_url(own.url)
                after = TaskClient(conn, REGISTRY).enqueue("test:ai", {"key": "after"})
                wait_for(lambda: status(conn, after.task_id) == "finished", 30, what="a job after the outage")
                wait_for(
                    lambda: all(status(conn, task.task_id) == "finished" for task in tasks),
                    30,
                    what="every job done",
                )
                assert worker.stop(signal.SIGTERM, timeout=20) == 0
        assert all(int(conn.hget(EFFECTS, key) or 0) >= 1 for key in keys)
        assert "Traceback" not in worker.output()
    finally:
        own.stop()


@pytest.mark.parametrize("threads", [1, 2])
def test_a_job_waiting_on_a_hung_mongodb_is_stopped_at_its_timeout(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path, threads: int
) -> None:
    """The worker's MongoDB client has no socket timeout of its own (the job's timeout bounds it): a
    job thread, which no signal reaches, must still get its insert stopped at the job's 2 s, as SIGALRM
    stops it in a one-thread slot, and its thread must take the next job."""
    with mongo_staller(env["MONGODB_URI"]) as staller:
        stalling_env = {**env, "MONGODB_URI": staller.uri(env["MONGODB_URI"])}
        client = TaskClient(redis_conn, REGISTRY)
        with fraiday(worker_args(threads=threads), stalling_env, tmp_path / "worker.log") as worker:
            warm = client.enqueue("test:mongo", {"key": "warm"})  # the client connected, the server known
            wait_for(lambda: status(redis_conn, warm.task_id) == "finished", 20, what="a first insert")
            staller.stall_inserts()
            hung = client.enqueue("test:mongo_timeout", {"key": "hung"})
            wait_for(lambda: staller.swallowed >= 1, 10, what="the insert sent to a hung server")
            swallowed_at = time.monotonic()
            wait_for(lambda: status(redis_conn, hung.task_id) == "failed", 15, what="the hung job stopped")
            assert time.monotonic() - swallowed_at < 2 + 3
            after = client.enqueue("test:count", {"key": "after"})
            wait_for(lambda: status(redis_conn, after.task_id) == "finished", 10, what="the next job")
            assert worker.stop(signal.SIGTERM, timeout=15) == 0
    job = Job.fetch(hung.task_id, connection=redis_conn, serializer=SERIALIZER)
    assert "Task exceeded maximum timeout value (2 seconds)" in (job.latest_result().exc_string or "")


def test_with_mongodb_unreachable_every_thread_s_job_fails_in_one_server_selection(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """The stores are built once per slot under a lock; with MongoDB down, each build fails after the
    server selection timeout (5 s). The threads waiting for that build share its failure instead of
    each trying in turn behind the lock: T jobs fail in about 5 s, not 5 s x T."""
    down_env = {**env, "MONGODB_URI": f"mongodb://127.0.0.1:{free_port()}/down"}
    client = TaskClient(redis_conn, REGISTRY)
    tasks = [client.enqueue("test:stores", {"key": f"s-{i}"}) for i in range(4)]
    with fraiday(worker_args(threads=4), down_env, tmp_path / "worker.log") as worker:
        wait_for(lambda: all_started(redis_conn, [f"s-{i}" for i in range(4)]), 15, what="four jobs running")
        started = time.monotonic()
        wait_for(lambda: all(status(redis_conn, t.task_id) == "failed" for t in tasks), 40, what="all failed")
        assert time.monotonic() - started < 5 + 4
        assert worker.stop(signal.SIGTERM, timeout=15) == 0
    for task in tasks:
        job = Job.fetch(task.task_id, connection=redis_conn, serializer=SERIALIZER)
        assert "ServerSelectionTimeoutError" in (job.latest_result().exc_string or "")
    assert effects(redis_conn) == {}
