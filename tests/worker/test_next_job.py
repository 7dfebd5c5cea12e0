"""A busy slot pops its next job in the step that writes a success (fraiday_cli.worker.next_job).

The job is then off its queue until the slot starts it, as after RQ's own pop: every way a slot can leave
before starting it (a stop, a recycle, a suspension, a kill, a stall) must hand it on, run once. The
in-process tests drive a real slot on real Redis by hand, as test_slow_slot.py does; the others run
``fraiday worker``.
"""

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from rq.exceptions import StopRequested
from rq.suspension import suspend
from typer.testing import CliRunner

from config import Settings
from fraiday_cli.main import app
from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.tasks.pausing import pause
from fraiday_cli.tasks.task_queue import queue_for
from fraiday_cli.worker.slot import SlotPolicy, SlotWorker
from fraiday_cli.worker.slot_job import SlotJob
from handlers.runtime import Runtime
from handlers.wire_format import JOB_FUNCTION, SERIALIZER
from tests.harness.process import free_port
from tests.observability.test_operations import sample
from tests.processes import TEST_REGISTRY, fraiday, settled, wait_for
from tests.support.round_trips import RoundTrips
from tests.support.tasks import EFFECTS, REGISTRY, STARTED
from tests.worker.test_poison_jobs import failed_ids, json_data, pickle_running, plant, worker
from tests.worker.test_slow_slot import orphan_scans_requeue

QUEUE = "rq:queue:events"
POPPED = "rq:queue:events:intermediate"
runner = CliRunner()


@pytest.fixture
def runtime(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """For the in-process tests: the slots run their jobs in this process."""
    monkeypatch.setattr("handlers.runtime._bound", Runtime(REGISTRY, settings))


def slot(conn: redis.Redis, *queues: str) -> SlotWorker:
    return SlotWorker(
        [queue_for(name, conn) for name in queues or ("events",)],
        connection=conn,
        serializer=SERIALIZER,
        policy=SlotPolicy({}, lease_seconds=3),
    )


def enqueue(conn: redis.Redis, *keys: str, task: str = "test:count") -> list[str]:
    client = TaskClient(conn, REGISTRY)
    return [client.enqueue(task, {"key": key}).task_id for key in keys]


def after_a_success(conn: redis.Redis, *queues: str) -> SlotWorker:
    """A slot that has just written the success of the first job on its queues."""
    worker = slot(conn, *queues)
    result = worker.dequeue_job_and_maintain_ttl(timeout=1)
    assert result is not None
    worker.execute_job(*result)
    return worker


def effects(conn: redis.Redis) -> dict[str, int]:
    return {key.decode(): int(count) for key, count in conn.hgetall(EFFECTS).items()}


def ids(conn: redis.Redis, key: str) -> list[str]:
    return [member.decode() for member in conn.lrange(key, 0, -1)]


@pytest.mark.usefixtures("runtime")
def test_the_next_job_is_popped_with_the_success_and_started_without_a_round_trip_to_get_it(
    redis_conn: redis.Redis,
) -> None:
    first, second = enqueue(redis_conn, "first", "second")
    worker = after_a_success(redis_conn)
    assert ids(redis_conn, QUEUE) == [] and ids(redis_conn, POPPED) == [second]
    assert redis_conn.hget(f"rq:job:{second}", "status") == b"queued"
    with RoundTrips() as trips:
        result = worker.dequeue_job_and_maintain_ttl(timeout=1)
    assert result is not None and result[0].id == second and trips.count == 0
    worker.execute_job(*result)
    assert effects(redis_conn) == {"first": 1, "second": 1}
    assert redis_conn.hget(f"rq:job:{first}", "status") == b"finished"
    assert redis_conn.hget(f"rq:job:{second}", "status") == b"finished"
    assert ids(redis_conn, POPPED) == []


@pytest.mark.usefixtures("runtime")
def test_a_slot_recycled_after_a_success_puts_the_next_job_back_at_the_front_of_its_queue(
    redis_conn: redis.Redis,
) -> None:
    _, second, third = enqueue(redis_conn, "first", "second", "third")
    slot(redis_conn).work(burst=True, max_jobs=1)
    assert ids(redis_conn, QUEUE) == [second, third] and ids(redis_conn, POPPED) == []
    assert redis_conn.hget(f"rq:job:{second}", "status") == b"queued"
    slot(redis_conn).work(burst=True)
    assert effects(redis_conn) == {"first": 1, "second": 1, "third": 1}


@pytest.mark.usefixtures("runtime")
def test_a_suspension_seen_after_a_success_puts_the_next_job_back(redis_conn: redis.Redis) -> None:
    _, second = enqueue(redis_conn, "first", "second")
    worker = after_a_success(redis_conn)
    suspend(redis_conn)
    with pytest.raises(StopRequested):
        worker.check_for_suspension(burst=True)
    assert ids(redis_conn, QUEUE) == [second] and ids(redis_conn, POPPED) == []


@pytest.mark.usefixtures("runtime")
def test_a_queue_paused_before_the_success_is_not_popped_from(redis_conn: redis.Redis) -> None:
    TaskClient(redis_conn, REGISTRY).enqueue("test:sleep", {"key": "first", "seconds": 2})
    [held] = enqueue(redis_conn, "held")
    [other] = enqueue(redis_conn, "other", task="test:count_chat")
    worker = SlotWorker(  # events always first
        [queue_for("events", redis_conn), queue_for("chat_workflow", redis_conn)],
        connection=redis_conn,
        serializer=SERIALIZER,
        policy=SlotPolicy({"events": 2}, strict=True, lease_seconds=3),
    )
    result = worker.dequeue_job_and_maintain_ttl(timeout=1)
    assert result is not None and result[1].name == "events"
    paused_at: list[float] = []

    def pause_once_started() -> None:
        wait_for(lambda: redis_conn.llen(STARTED + "first"), 10, what="the first job to start")
        pause(redis_conn, "events")
        paused_at.append(time.time())

    pausing = threading.Thread(target=pause_once_started)
    pausing.start()
    worker.execute_job(*result)
    pausing.join()
    ended_at = result[0].ended_at
    assert paused_at and ended_at is not None and paused_at[0] < ended_at.timestamp()
    assert effects(redis_conn) == {"first": 1}
    assert ids(redis_conn, QUEUE) == [held]
    assert ids(redis_conn, "rq:queue:chat_workflow:intermediate") == [other]


@pytest.mark.usefixtures("runtime")
def test_a_drain_that_reports_the_queue_drained_leaves_the_job_a_slot_holds_unstarted(
    redis_conn: redis.Redis,
) -> None:
    """The slot holds the job it popped with the last success while the drain runs; it must not start it
    once the drain has said no job of the queue runs (old and new workers would then run side by side)."""
    _, second = enqueue(redis_conn, "first", "second")
    worker = after_a_success(redis_conn)
    drained = runner.invoke(app, ["drain", "--queue", "events", "--timeout", "5"])
    assert drained.exit_code == 0, drained.output
    result = worker.dequeue_job_and_maintain_ttl(timeout=1)
    assert result is not None and result[0].id == second
    worker.execute_job(*result)
    assert effects(redis_conn) == {"first": 1}
    assert ids(redis_conn, QUEUE) == [second] and ids(redis_conn, POPPED) == []
    assert redis_conn.hget(f"rq:job:{second}", "status") == b"queued"
    assert runner.invoke(app, ["resume", "--queue", "events"]).exit_code == 0
    slot(redis_conn).work(burst=True)
    assert effects(redis_conn) == {"first": 1, "second": 1}


@pytest.mark.usefixtures("runtime")
def test_a_job_popped_by_rqs_dequeue_before_a_pause_is_put_back_by_its_start(redis_conn: redis.Redis) -> None:
    """Loaded with the paused set before ``fraiday pause`` returned, started after: not run."""
    [job_id] = enqueue(redis_conn, "first")
    worker = slot(redis_conn, "events", "chat_workflow")  # two queues: RQ pops with BLPOP, no intermediate
    result = worker.dequeue_job_and_maintain_ttl(timeout=1)
    assert result is not None and result[0].id == job_id
    pause(redis_conn, "events")
    worker.execute_job(*result)
    assert effects(redis_conn) == {}
    assert ids(redis_conn, QUEUE) == [job_id] and ids(redis_conn, POPPED) == []
    assert redis_conn.hget(f"rq:job:{job_id}", "status") == b"queued"


def stop_around_the_success(worker: SlotWorker, monkeypatch: pytest.MonkeyPatch, *, after: bool) -> None:
    """A SIGTERM (what the pool sends its slots) landing just before or just after the success script,
    where the slot is already idle: windows of a few microseconds on a busy slot, here every time."""
    write_if_held = worker._lease.write_if_held

    def stopped_around(*args: Any, **kwargs: Any) -> Any:
        if not after:
            os.kill(os.getpid(), signal.SIGTERM)
        written = write_if_held(*args, **kwargs)
        if after:
            os.kill(os.getpid(), signal.SIGTERM)
        return written

    monkeypatch.setattr(worker._lease, "write_if_held", stopped_around)


@pytest.mark.usefixtures("runtime")
@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
def test_a_stop_landing_at_a_success_keeps_it_and_puts_the_next_job_back(
    redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch, after: bool
) -> None:
    """Landing before the script, RQ's StopRequested failed the succeeded job (a retry ran it again) and
    the slot worked on; landing after it, it lost the job the script popped (in RQ's intermediate list)."""
    first, second, third = enqueue(redis_conn, "first", "second", "third")
    worker = slot(redis_conn)
    stop_around_the_success(worker, monkeypatch, after=after)
    handlers = {stop: signal.getsignal(stop) for stop in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.work(burst=True)
    finally:  # RQ's, which work() installs, would outlive the worker
        for stop, handler in handlers.items():
            signal.signal(stop, handler)
    assert effects(redis_conn) == {"first": 1}
    assert redis_conn.hget(f"rq:job:{first}", "status") == b"finished"
    assert ids(redis_conn, QUEUE) == [second, third] and ids(redis_conn, POPPED) == []
    assert redis_conn.hget(f"rq:job:{second}", "status") == b"queued"
    slot(redis_conn).work(burst=True)
    assert effects(redis_conn) == {"first": 1, "second": 1, "third": 1}


@pytest.mark.usefixtures("runtime")
def test_a_stop_landing_while_rq_loads_the_job_it_popped_puts_that_job_back_and_stops(
    redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RQ tags an exception raised while it loads a popped job with the job: a stop landing there was taken
    for an unreadable job (dead-lettered unrun) and lost (the slot worked on)."""
    first, second = enqueue(redis_conn, "first", "second")
    refresh = SlotJob.refresh

    def stopped_while_loading(job: SlotJob) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        refresh(job)

    monkeypatch.setattr(SlotJob, "refresh", stopped_while_loading)
    handlers = {stop: signal.getsignal(stop) for stop in (signal.SIGINT, signal.SIGTERM)}
    try:
        slot(redis_conn).work(burst=True)
    finally:
        for stop, handler in handlers.items():
            signal.signal(stop, handler)
    assert effects(redis_conn) == {} and failed_ids(redis_conn, "events") == set()
    assert ids(redis_conn, QUEUE) == [first, second] and ids(redis_conn, POPPED) == []
    assert redis_conn.hget(f"rq:job:{first}", "status") == b"queued"


@pytest.mark.usefixtures("runtime")
def test_a_stop_landing_in_rqs_heartbeat_after_its_pop_runs_the_job_popped_and_then_stops(
    redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RQ's dequeue beats the slot's heartbeat (a round trip each second) after it has the job: a stop
    landing there left the job in RQ's intermediate list, where only an orphan sweep would find it."""
    _, second = enqueue(redis_conn, "first", "second")
    worker = slot(redis_conn)
    heartbeat, reorder_queues, popped = worker.heartbeat, worker.reorder_queues, []

    def reordered(reference_queue: Any) -> None:
        reorder_queues(reference_queue)
        popped.append(reference_queue)

    def stopped_in_heartbeat(*args: Any, **kwargs: Any) -> None:
        if len(popped) == 1 and not args and not kwargs:
            popped.append("stopped")
            os.kill(os.getpid(), signal.SIGTERM)
        heartbeat(*args, **kwargs)

    monkeypatch.setattr(worker, "reorder_queues", reordered)
    monkeypatch.setattr(worker, "heartbeat", stopped_in_heartbeat)
    handlers = {stop: signal.getsignal(stop) for stop in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.work(burst=True)
    finally:
        for stop, handler in handlers.items():
            signal.signal(stop, handler)
    assert popped[1:] == ["stopped"]
    assert effects(redis_conn) == {"first": 1}
    assert ids(redis_conn, QUEUE) == [second] and ids(redis_conn, POPPED) == []


@pytest.mark.usefixtures("runtime")
def test_a_slot_killed_holding_its_next_job_leaves_it_to_the_orphan_sweep_and_it_runs_once(
    redis_conn: redis.Redis,
) -> None:
    """Killed, or stalled past two orphan scans and then resuming: either way the job runs once."""
    _, second = enqueue(redis_conn, "first", "second")
    stalled = after_a_success(redis_conn)
    orphan_scans_requeue(redis_conn, second)
    assert ids(redis_conn, QUEUE) == [second]
    result = stalled.dequeue_job_and_maintain_ttl(timeout=1)
    assert result is not None and result[0].id == second
    stalled.execute_job(*result)  # its start claim is refused: the job was requeued
    assert effects(redis_conn) == {"first": 1}
    slot(redis_conn).work(burst=True)
    assert effects(redis_conn) == {"first": 1, "second": 1}
    assert ids(redis_conn, QUEUE) == [] and ids(redis_conn, POPPED) == []


def test_a_worker_stopped_while_busy_leaves_no_job_popped_and_each_runs_once(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    keys = [f"job-{n}" for n in range(1000)]
    client = TaskClient(redis_conn, REGISTRY)
    for key in keys:
        client.enqueue("test:sleep", {"key": key, "seconds": 0.01})
    args = ["worker", "--queue", "events", "--concurrency", "2", "--registry", TEST_REGISTRY]
    with fraiday(args, env, tmp_path / "first.log") as process:
        wait_for(lambda: redis_conn.hlen(EFFECTS) >= 100, 30, what="100 jobs done")
        assert process.stop(signal.SIGTERM, timeout=15) == 0
    assert ids(redis_conn, POPPED) == []
    left = redis_conn.llen(QUEUE)
    assert left > 0, "the worker finished every job before its stop: nothing was tested"
    assert left + redis_conn.hlen(EFFECTS) == len(keys)
    with fraiday(args, env, tmp_path / "second.log") as process:
        wait_for(lambda: redis_conn.hlen(EFFECTS) == len(keys), 60, what="every job done")
        wait_for(lambda: settled(redis_conn, ["events"]), 30, what="no job left to run")
        process.stop(signal.SIGTERM, timeout=15)
    assert set(effects(redis_conn).values()) == {1}
    for log in ("first.log", "second.log"):
        assert "Traceback" not in (tmp_path / log).read_text()


def test_jobs_planted_behind_a_good_one_are_refused_as_when_popped_first(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """Each planted job is popped with the success of the good job in front of it, not by RQ's pop."""
    marker = tmp_path / "unpickled"
    planted = {
        "pickled": {"data": pickle_running(f"touch {marker}")},
        "bad-timeout": {"data": json_data(JOB_FUNCTION, ["test:count", {"key": "bad"}]), "timeout": "soon"},
        "bad id!": {"data": json_data(JOB_FUNCTION, ["test:count", {"key": "bad"}])},
    }
    for n, (job_id, fields) in enumerate(planted.items()):
        enqueue(redis_conn, f"good-{n}")
        plant(redis_conn, job_id, "events", **fields)
    enqueue(redis_conn, "good-a")
    redis_conn.rpush(QUEUE, b"\xff\xfe-not-utf8")
    enqueue(redis_conn, "good-b")
    redis_conn.rpush(QUEUE, "no-such-job")
    enqueue(redis_conn, "good-c")
    redis_conn.set("rq:job:a-string", "not a hash")
    redis_conn.rpush(QUEUE, "a-string")
    enqueue(redis_conn, "good-d")
    port = free_port()
    with fraiday(worker(port, "events"), env, tmp_path / "worker.log") as process:
        wait_for(lambda: redis_conn.hlen(EFFECTS) == 7, 20, what="the good jobs")
        wait_for(lambda: redis_conn.llen(POPPED) == 0, 10, what="nothing left popped")
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        process.stop(signal.SIGTERM)
    assert effects(redis_conn) == {f"good-{n}": 1 for n in (0, 1, 2, "a", "b", "c", "d")}
    assert failed_ids(redis_conn, "events") == {*planted, "a-string"}
    assert not marker.exists()
    assert sample(metrics, "fraiday_poison_jobs_total", queue="events", reason="data") == 1
    assert sample(metrics, "fraiday_poison_jobs_total", queue="events", reason="unreadable") == 4
    assert redis_conn.llen(QUEUE) == 0
    assert "Traceback" not in (tmp_path / "worker.log").read_text()
