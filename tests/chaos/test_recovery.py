"""How long a running job waits after its worker dies: the recovery bound, measured per scenario.

Full (``nox -s chaos``) runs at the default ``FRAIDAY_RECOVERY_SECONDS`` (60 s), three times each, for
the median and worst in docs/reliability.md; the default run uses 6 s, once. The same code paths either
way: only the lease, sweep and lock times scale with the setting.
"""

import os
import signal
import statistics
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from fraiday_cli.tasks.client import TaskClient
from tests.chaos.conftest import FULL, size
from tests.harness.redis_server import RedisServer
from tests.processes import TEST_REGISTRY, FraidayProcess, fraiday, wait_for
from tests.support.pop_cutter import pop_cutter
from tests.support.tasks import EFFECTS, REGISTRY, STARTED

RECOVERY = 60 if FULL else 6
RUNS = range(3 if FULL else 1)
JOB_SECONDS = size(2, 10)
SCHEDULER_LOCK = "rq:scheduler-lock:events"

pytestmark = pytest.mark.timeout(900 if FULL else 300)


def worker_args(concurrency: int, *queues: str) -> list[str]:
    names = [arg for queue in queues or ("events",) for arg in ("--queue", queue)]
    return ["worker", *names, "--concurrency", str(concurrency), "--registry", TEST_REGISTRY]


@pytest.fixture
def recovery_env(env: dict[str, str]) -> dict[str, str]:
    """Full size at the defaults users get: no FRAIDAY_RECOVERY_SECONDS at all."""
    if FULL:
        return {key: value for key, value in env.items() if key != "FRAIDAY_RECOVERY_SECONDS"}
    return env


def report(scenario: str, seconds: list[float]) -> None:
    """One line per scenario, collected into docs/reliability.md from ``nox -s chaos -- -s``."""
    print(
        f"\nrecovery | {scenario} | R={RECOVERY}s | "
        + ", ".join(f"{s:.1f}" for s in seconds)
        + f" | median {statistics.median(seconds):.1f} | worst {max(seconds):.1f}"
    )


def starts(conn: redis.Redis, key: str) -> list[float]:
    """When each attempt of a ``test:sleep`` job began (its handler's first act)."""
    return [float(entry.split(b":")[1]) for entry in conn.lrange(STARTED + key, 0, -1)]


def effects(conn: redis.Redis) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in conn.hgetall(EFFECTS).items()}


def kill_everything(worker: FraidayProcess) -> float:
    """SIGKILL the pool and every process it started at once, as the OOM killer or a node loss does."""
    killed_at = time.time()
    os.killpg(worker.pid, signal.SIGKILL)
    worker.proc.wait(10)
    return killed_at


def sleep_job(conn: redis.Redis, key: str, seconds: float = JOB_SECONDS, kind: str = "test:sleep") -> str:
    return TaskClient(conn, REGISTRY).enqueue(kind, {"key": key, "seconds": seconds}).task_id


@pytest.mark.parametrize("run", RUNS)
def test_a_whole_worker_killed_mid_job_runs_again_on_a_fresh_worker(
    run: int, redis_conn: redis.Redis, recovery_env: dict[str, str], tmp_path: Path
) -> None:
    keys = ["first", "second"]
    for key in keys:
        sleep_job(redis_conn, key)
    client = TaskClient(redis_conn, REGISTRY)
    with fraiday(worker_args(2), recovery_env, tmp_path / "killed.log") as doomed:
        wait_for(lambda: all(starts(redis_conn, key) for key in keys), 30, what="both jobs running")
        wait_for(lambda: redis_conn.exists(SCHEDULER_LOCK), 30, what="the doomed pool's scheduler leading")
        # A retry falling due just after the kill: the dead pool's scheduler lock must not hold it up.
        due_at = time.time() + 2
        client.enqueue("test:sleep", {"key": "due", "seconds": 0}, delay=timedelta(seconds=2))
        killed_at = kill_everything(doomed)
    with fraiday(worker_args(2), recovery_env, tmp_path / "fresh.log") as fresh:
        wait_for(
            lambda: all(len(starts(redis_conn, key)) >= 2 for key in keys) and starts(redis_conn, "due"),
            3 * RECOVERY + 60,
            what="both jobs started again",
        )
        recovered = [starts(redis_conn, key)[1] - killed_at for key in keys]
        due_late = starts(redis_conn, "due")[0] - due_at
        wait_for(lambda: effects(redis_conn) == {"first": 1, "second": 1, "due": 1}, 60, what="completion")
        fresh.stop(signal.SIGTERM)
    report("whole worker SIGKILLed, fresh worker started", recovered)
    report("retry due 2 s after a whole-worker kill (lateness)", [due_late])
    assert max(recovered) < RECOVERY
    assert due_late < max(5, RECOVERY / 3), "the dead pool's scheduler lock lapses within R/4"
    assert effects(redis_conn) == {"first": 1, "second": 1, "due": 1}, "each job ran to completion once"
    assert [len(starts(redis_conn, key)) for key in keys] == [2, 2]


def test_a_sync_job_with_a_30_s_backoff_runs_again_within_the_bound_after_a_whole_worker_kill(
    redis_conn: redis.Redis, recovery_env: dict[str, str], tmp_path: Path
) -> None:
    """The case measured at 91 s: recovery used to go through the job's retry backoff (30 s for a sync)."""
    TaskClient(redis_conn, REGISTRY).enqueue("test:sleep_sync", {"key": "sync", "seconds": JOB_SECONDS})
    args = worker_args(2, "semantic_layer")
    with fraiday(args, recovery_env, tmp_path / "killed.log") as doomed:
        wait_for(lambda: starts(redis_conn, "sync"), 30, what="the sync running")
        killed_at = kill_everything(doomed)
    with fraiday(args, recovery_env, tmp_path / "fresh.log") as fresh:
        wait_for(lambda: len(starts(redis_conn, "sync")) >= 2, 3 * RECOVERY + 90, what="second start")
        recovered = starts(redis_conn, "sync")[1] - killed_at
        wait_for(lambda: effects(redis_conn) == {"sync": 1}, 60, what="completion")
        fresh.stop(signal.SIGTERM)
    report("whole worker SIGKILLed mid-sync (30 s retry backoff), fresh worker started", [recovered])
    assert recovered < RECOVERY
    assert len(starts(redis_conn, "sync")) == 2


@pytest.mark.parametrize("run", RUNS)
def test_a_whole_worker_killed_mid_job_is_picked_up_by_the_remaining_worker(
    run: int, redis_conn: redis.Redis, recovery_env: dict[str, str], tmp_path: Path
) -> None:
    # Longer than the survivor's start (about 2 s on a loaded machine), so the kill lands mid-job.
    sleep_job(redis_conn, "orphan", max(JOB_SECONDS, 8))
    with fraiday(worker_args(1), recovery_env, tmp_path / "killed.log") as doomed:
        wait_for(lambda: starts(redis_conn, "orphan"), 30, what="job running")
        with fraiday(worker_args(1), recovery_env, tmp_path / "survivor.log") as survivor:
            wait_for(survivor.children, 20, what="the surviving worker's slot")
            killed_at = kill_everything(doomed)
            assert effects(redis_conn) == {}, "the worker was killed mid-job"
            wait_for(lambda: len(starts(redis_conn, "orphan")) >= 2, 3 * RECOVERY + 60, what="second start")
            recovered = starts(redis_conn, "orphan")[1] - killed_at
            wait_for(lambda: effects(redis_conn) == {"orphan": 1}, 60, what="completion")
            survivor.stop(signal.SIGTERM)
    report("whole worker SIGKILLed, another worker running", [recovered])
    assert recovered < RECOVERY
    assert len(starts(redis_conn, "orphan")) == 2


@pytest.mark.parametrize("run", RUNS)
def test_a_worker_whose_slots_are_all_busy_still_recovers_a_dead_worker_s_job(
    run: int, redis_conn: redis.Redis, recovery_env: dict[str, str], tmp_path: Path
) -> None:
    long_seconds = RECOVERY + 20
    with fraiday(worker_args(1), recovery_env, tmp_path / "busy.log") as busy:
        sleep_job(redis_conn, "long", long_seconds, kind="test:sleep_long")
        wait_for(lambda: starts(redis_conn, "long"), 30, what="the long job running")
        victim = sleep_job(redis_conn, "victim")
        with fraiday(worker_args(1), recovery_env, tmp_path / "killed.log") as doomed:
            wait_for(lambda: starts(redis_conn, "victim"), 30, what="the victim running")
            killed_at = kill_everything(doomed)
        queue = f"rq:queue:{REGISTRY.get('test:sleep').queue}"
        wait_for(
            lambda: (
                victim.encode() in redis_conn.lrange(queue, 0, -1) or len(starts(redis_conn, "victim")) > 1
            ),
            long_seconds + 30,
            what="requeued",
        )
        requeued = time.time() - killed_at
        assert len(starts(redis_conn, "long")) == 1, "the busy slot is still on its long job"
        wait_for(lambda: effects(redis_conn) == {"long": 1, "victim": 1}, long_seconds + 60, what="both")
        busy.stop(signal.SIGTERM)
    report("whole worker SIGKILLed, the other worker's slots all busy (time to requeue)", [requeued])
    assert requeued < RECOVERY


@pytest.mark.parametrize("queues", [("events",), ("events", "chat_workflow")], ids=["blmove", "blpop"])
def test_a_connection_lost_between_pop_and_read_orphans_no_job(
    queues: tuple[str, ...],
    redis_conn: redis.Redis,
    redis_server: RedisServer,
    recovery_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """One queue dequeues with BLMOVE into RQ's intermediate list, several with BLPOP into nothing."""
    with pop_cutter(redis_server.port) as cutter:
        env = {**recovery_env, "REDIS_URL": cutter.url}
        with fraiday(worker_args(1, *queues), env, tmp_path / "worker.log") as worker:
            wait_for(lambda: redis_conn.scard("rq:workers") >= 1, 20, what="the slot registered")
            cutter.cut_next_pop()
            task_id = sleep_job(redis_conn, "popped", 0.1)
            wait_for(lambda: cutter.cuts == 1, 20, what="the pop's answer lost")
            cut_at = time.time()
            assert redis_conn.lrange("rq:queue:events", 0, -1) == [], "Redis popped the id"
            wait_for(lambda: starts(redis_conn, "popped"), 3 * RECOVERY + 90, what="the job run after all")
            recovered = starts(redis_conn, "popped")[0] - cut_at
            wait_for(lambda: redis_conn.hget(f"rq:job:{task_id}", "status") == b"finished", 20, what="done")
            worker.stop(signal.SIGTERM)
    report(f"connection lost between pop and read ({'+'.join(queues)})", [recovered])
    assert recovered < RECOVERY
    assert effects(redis_conn) == {"popped": 1}


def test_a_retry_due_during_a_redis_outage_runs_soon_after_redis_returns(
    redis_conn: redis.Redis, redis_server: RedisServer, recovery_env: dict[str, str], tmp_path: Path
) -> None:
    outage = size(4, 10)
    with fraiday(worker_args(2), recovery_env, tmp_path / "worker.log") as worker:
        wait_for(lambda: redis_conn.exists(SCHEDULER_LOCK), 20, what="a scheduler leading")
        TaskClient(redis_conn, REGISTRY).enqueue(
            "test:sleep", {"key": "retry", "seconds": 0}, delay=timedelta(seconds=2)
        )
        redis_server.stop()
        time.sleep(outage)  # the outage itself; the job falls due in the middle of it
        redis_server.start()
        back_at = time.time()
        wait_for(lambda: starts(redis_conn, "retry"), 3 * RECOVERY + 90, what="the due job run")
        late = starts(redis_conn, "retry")[0] - back_at
        worker.stop(signal.SIGTERM)
    report(f"job due during a {outage:.0f} s Redis outage (after Redis returned)", [late])
    assert late < 5


def test_a_frozen_worker_s_stale_attempt_does_not_overwrite_the_recovered_one(
    redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """A pod frozen (SIGSTOP) past its lease: another worker runs the job again and finishes it. When the
    frozen one resumes, its SIGALRM (pending all along) fails its attempt; that stale failure used to
    schedule a third run of a finished job (or fail it into the dead-letter registry)."""
    task_id = (
        TaskClient(redis_conn, REGISTRY)
        .enqueue("test:sleep_timeout", {"key": "frozen", "seconds": 2})
        .task_id
    )
    env = {**env, "FRAIDAY_RECOVERY_SECONDS": "6"}
    with fraiday(worker_args(1), env, tmp_path / "frozen.log") as frozen:
        wait_for(lambda: starts(redis_conn, "frozen"), 30, what="the job running")
        os.killpg(frozen.pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        with fraiday(worker_args(1), env, tmp_path / "other.log") as other:
            finished = lambda: redis_conn.hget(f"rq:job:{task_id}", "status") == b"finished"  # noqa: E731
            wait_for(finished, 60, what="attempt 2 done elsewhere")
            assert effects(redis_conn) == {"frozen": 1}
            wait_for(lambda: time.monotonic() - frozen_at > 5, 10, what="the frozen attempt past its timeout")
            os.killpg(frozen.pid, signal.SIGCONT)
            wait_for(
                lambda: b"outcome discarded" in frozen.log_path.read_bytes(), 30, what="stale outcome dropped"
            )
            assert redis_conn.hget(f"rq:job:{task_id}", "status") == b"finished"
            assert redis_conn.zrange("rq:scheduled:events", 0, -1) == [], "no third run scheduled"
            assert redis_conn.zrange("rq:failed:events", 0, -1) == []
            assert len(starts(redis_conn, "frozen")) == 2
            other.stop(signal.SIGTERM)


def test_slots_of_a_pool_killed_on_its_own_finish_their_job_and_exit(
    redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """SIGKILL of the pool alone (not its group): its slots used to live on, taking jobs unsupervised."""
    sleep_job(redis_conn, "running", 3)
    with fraiday(worker_args(2), env, tmp_path / "worker.log") as worker:
        wait_for(lambda: starts(redis_conn, "running"), 30, what="the job running")
        slots = worker.children()
        assert len(slots) == 2
        os.kill(worker.pid, signal.SIGKILL)
        worker.proc.wait(10)
        wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in slots), 30, what="the slots gone")
    assert effects(redis_conn) == {"running": 1}, "the running job finished once before its slot left"
    assert len(starts(redis_conn, "running")) == 1
