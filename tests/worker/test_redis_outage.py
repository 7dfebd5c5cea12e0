"""A worker, the scheduler and the Celery bridge ride out a Redis outage: one line per reconnect attempt,
backing off, no traceback per loop, and they resume by themselves when Redis is back."""

import inspect
import itertools
import re
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis
from rq import Queue, Worker
from rq.worker import BaseWorker

from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.worker.rq_logs import JOB_EXCEPTION_HANDLER, LISTENER_HANDLER
from tests.harness.redis_server import RedisServer
from tests.processes import TEST_REGISTRY, FraidayProcess, fraiday, wait_for
from tests.support.tasks import EFFECTS, REGISTRY

UNREACHABLE = re.compile(r"^(\S+) WARNING .*Redis at 127\.0\.0\.1:\d+/0 unreachable \(attempt (\d+)\)", re.M)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, so stopping it disturbs no other test."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def outage_env(env: dict[str, str], server: RedisServer) -> dict[str, str]:
    return {**env, "REDIS_URL": server.url, "LOG_FORMAT": "text"}


def attempts(process: FraidayProcess) -> list[tuple[datetime, int]]:
    return [(datetime.fromisoformat(stamp), int(n)) for stamp, n in UNREACHABLE.findall(process.output())]


def assert_backs_off(seen: list[tuple[datetime, int]]) -> None:
    """Attempts are numbered 1, 2, 3 ... and the wait between them grows (1 s, 2 s, 4 s)."""
    assert [n for _, n in seen[:3]] == [1, 2, 3]
    gaps = [(b - a).total_seconds() for (a, _), (b, _) in itertools.pairwise(seen[:3])]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9, gaps


CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def tracebacks(text: str) -> list[str]:
    """One entry per printed traceback (chained ones count once): the line before it, which names the
    process that printed it."""
    found = []
    before = ""
    for line in text.splitlines():
        if line.startswith("Traceback") and not before.startswith(CHAINED):
            found.append(before)
        if line.strip():
            before = line
    return found


def test_a_worker_stopped_while_redis_is_down_stops_at_once(
    env: dict[str, str], own_redis: RedisServer, tmp_path: Path
) -> None:
    """A slot waits for Redis before its worker loop, with stop signals held: the wait never saw the
    pool's stop, so Ctrl+C or a deploy during an outage took the whole grace period (25 s) and ended in
    "slots did not stop after the interrupt: killing 1"."""
    own_redis.stop()
    worker_args = ["worker", "--queue", "events", "--concurrency", "2", "--registry", TEST_REGISTRY]
    with fraiday(worker_args, outage_env(env, own_redis), tmp_path / "worker.log") as worker:
        wait_for(lambda: len(attempts(worker)) >= 4, 15, what="both slots waiting for Redis")
        stopping = time.monotonic()
        assert worker.stop(signal.SIGTERM) == 0
        took = time.monotonic() - stopping
    assert took < 5, f"{took:.1f}s:\n{worker.output()[-3000:]}"
    assert "killing" not in worker.output()
    assert tracebacks(worker.output()) == []


def test_a_running_worker_stopped_during_an_outage_says_so_in_one_line_per_slot(
    env: dict[str, str], own_redis: RedisServer, tmp_path: Path
) -> None:
    """On its way out each slot unregisters from Redis (RQ's ``register_death``): with Redis gone that
    raised out of the slot, two tracebacks per slot in every worker log whenever run-local stopped the
    stack because its Redis had died, or an operator stopped workers during an outage."""
    worker_args = ["worker", "--queue", "events", "--concurrency", "2", "--registry", TEST_REGISTRY]
    with fraiday(worker_args, outage_env(env, own_redis), tmp_path / "worker.log") as worker:
        conn = redis.Redis.from_url(own_redis.url)
        wait_for(lambda: conn.scard("rq:workers") == 2, 15, what="two slots registered")
        own_redis.stop()
        wait_for(lambda: worker.output().count("could not connect to Redis") >= 2, 15, what="the slots")
        assert worker.stop(signal.SIGTERM) == 0
    text = worker.output()
    assert tracebacks(text) == [], text[-3000:]
    assert text.count("stopped without reaching Redis to unregister") == 2, text[-3000:]


def test_a_worker_started_while_redis_is_down_waits_and_then_works(
    env: dict[str, str], own_redis: RedisServer, tmp_path: Path
) -> None:
    own_redis.stop()
    worker_args = ["worker", "--queue", "events", "--registry", TEST_REGISTRY]
    with fraiday(worker_args, outage_env(env, own_redis), tmp_path / "worker.log") as worker:
        wait_for(lambda: len(attempts(worker)) >= 3, 15, what="three reconnect attempts")
        own_redis.start()
        conn = redis.Redis.from_url(own_redis.url)
        TaskClient(conn, REGISTRY).enqueue("test:count", {"key": "after"})
        # The backoff is capped at 5 s: the worker is back within one more attempt.
        wait_for(lambda: conn.hget(EFFECTS, "after") == b"1", 15, what="the job after Redis came back")
        assert worker.stop(signal.SIGTERM) == 0
    text = worker.output()
    assert_backs_off(attempts(worker))
    assert "reachable again after" in text
    assert tracebacks(text) == []


def test_a_running_worker_that_loses_redis_logs_each_attempt_and_resumes(
    env: dict[str, str], own_redis: RedisServer, tmp_path: Path
) -> None:
    conn = redis.Redis.from_url(own_redis.url)
    client = TaskClient(conn, REGISTRY)
    worker_args = ["worker", "--queue", "events", "--registry", TEST_REGISTRY]
    with fraiday(worker_args, outage_env(env, own_redis), tmp_path / "worker.log") as worker:
        client.enqueue("test:count", {"key": "before"})
        wait_for(lambda: conn.hget(EFFECTS, "before") == b"1", 15, what="a job before the outage")
        own_redis.stop()
        rq_attempts = re.compile(r"could not connect to Redis instance: .* retrying in (\d+) seconds")
        wait_for(lambda: len(rq_attempts.findall(worker.output())) >= 4, 20, what="four reconnect attempts")
        own_redis.start()
        client.enqueue("test:count", {"key": "after"})
        wait_for(lambda: conn.hget(EFFECTS, "after") == b"1", 15, what="the job after Redis came back")
        assert worker.stop(signal.SIGTERM) == 0
    text = worker.output()
    delays = [int(d) for d in rq_attempts.findall(text)]
    # One line per attempt, backing off (capped by the pool); RQ's command listener, which repeated the
    # outage every 2 s in between, is silenced.
    assert delays[:2] == [1, 2] and delays == sorted(delays), delays
    assert [before for before in tracebacks(text) if before != "Process Scheduler:"] == []


def test_the_scheduler_backs_off_and_leads_again_when_redis_returns(
    env: dict[str, str], own_redis: RedisServer, tmp_path: Path
) -> None:
    with fraiday(
        ["scheduler", "--registry", TEST_REGISTRY], outage_env(env, own_redis), tmp_path / "s.log"
    ) as s:
        wait_for(lambda: "scheduler is now the leader" in s.output(), 10, what="leadership")
        own_redis.stop()
        wait_for(lambda: len(attempts(s)) >= 3, 15, what="three reconnect attempts")
        own_redis.start()
        wait_for(lambda: "reachable again after" in s.output(), 10, what="reconnected")
        assert s.stop(signal.SIGTERM) == 0
    assert_backs_off(attempts(s))
    assert tracebacks(s.output()) == []


@pytest.mark.parametrize("bridge_command", ["celery-bridge", "asynq-bridge"])
def test_a_bridge_backs_off_and_resumes(
    env: dict[str, str], own_redis: RedisServer, tmp_path: Path, bridge_command: str
) -> None:
    args = [bridge_command, "--queue", "events", "--registry", TEST_REGISTRY]
    own_redis.stop()
    with fraiday(args, outage_env(env, own_redis), tmp_path / "bridge.log") as bridge:
        wait_for(lambda: len(attempts(bridge)) >= 3, 15, what="three reconnect attempts")
        own_redis.start()
        wait_for(lambda: "reachable again after" in bridge.output(), 10, what="reconnected")
        assert bridge.stop(signal.SIGTERM) == 0
    assert_backs_off(attempts(bridge))
    assert tracebacks(bridge.output()) == []


def test_the_rq_listener_whose_lines_are_dropped_still_has_that_name() -> None:
    """The filter recognises RQ's duplicate outage lines by the method logging them: a rename in RQ must
    fail here, not silently bring the lines back."""
    source = inspect.getsource(getattr(BaseWorker, LISTENER_HANDLER))
    assert "could not connect to Redis instance" in source


def test_rq_logs_a_failed_job_while_its_exception_is_being_handled() -> None:
    """The filter drops RQ's traceback of a permanent failure by looking at the exception being handled:
    RQ must keep calling its handler from inside the ``except`` of ``perform_job``."""
    source = inspect.getsource(BaseWorker.perform_job)
    handled = source[source.index("except:") :]
    assert f"self.{JOB_EXCEPTION_HANDLER}(job, *exc_info)" in handled


def test_a_worker_registers_again_in_a_redis_that_lost_its_data(
    env: dict[str, str], own_redis: RedisServer, tmp_path: Path
) -> None:
    """A Redis restarted without its data still gets jobs served; `fraiday queues` must not say 0 workers."""
    conn = redis.Redis.from_url(own_redis.url)
    worker_args = ["worker", "--queue", "events", "--concurrency", "2", "--registry", TEST_REGISTRY]
    with fraiday(worker_args, outage_env(env, own_redis), tmp_path / "worker.log") as worker:
        wait_for(lambda: Worker.count(connection=conn, queue=Queue("events", connection=conn)) == 2, 15)
        conn.flushall()
        wait_for(
            lambda: Worker.count(connection=conn, queue=Queue("events", connection=conn)) == 2,
            10,
            what="both slots registered again",
        )
        names = {w.name for w in Worker.all(connection=conn)}
        assert len(names) == 2 and all(w.queue_names() == ["events"] for w in Worker.all(connection=conn))
        assert worker.stop(signal.SIGTERM) == 0
    assert Worker.count(connection=conn) == 0
