"""A slot slow, not dead (a starved CPU, a long GC, a paused pod): recovery must not run its job twice.

Recovery cannot tell a slow slot from a dead one, so it acts on the job; what keeps an attempt from running
twice is the slow slot noticing, atomically, when it comes back. The interleavings are driven by hand on
real Redis with a real slot and the real sweeps; only the clocks are moved, as in test_maintenance.py.
"""

import time

import pytest
import redis
from rq.job import Job
from rq.queue import Queue

from config import Settings
from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.tasks.task_queue import queue_for
from fraiday_cli.worker.maintenance import RecoveryTimes
from fraiday_cli.worker.recovery import ORPHAN_SCAN_LOCK_KEY, OrphanSweep, requeue_expired
from fraiday_cli.worker.slot import SlotPolicy, SlotWorker
from handlers.runtime import Runtime
from handlers.wire_format import ATTEMPTS_META, SERIALIZER
from tests.support.tasks import EFFECTS, REGISTRY

TIMES = RecoveryTimes.within(6)


@pytest.fixture(autouse=True)
def runtime(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The slots run their jobs in this process, as `fraiday worker`'s slots do in theirs."""
    monkeypatch.setattr("handlers.runtime._bound", Runtime(REGISTRY, settings))


def slot(conn: redis.Redis) -> SlotWorker:
    return SlotWorker(
        [queue_for("events", conn)],
        connection=conn,
        serializer=SERIALIZER,
        policy=SlotPolicy({}, lease_seconds=3),
    )


def popped(worker: SlotWorker) -> tuple[Job, Queue]:
    result = worker.dequeue_job_and_maintain_ttl(timeout=1)
    assert result is not None
    return result


def popped_then_requeued(conn: redis.Redis, key: str) -> tuple[SlotWorker, Job, Queue]:
    """A slot stalled after popping a fresh ``test:count`` job, for two orphan scans: the job is on its
    queue again, and the slot still holds its loaded copy."""
    TaskClient(conn, REGISTRY).enqueue("test:count", {"key": key})
    stalled = slot(conn)
    job, queue = popped(stalled)
    orphan_scans_requeue(conn, job.id)
    return stalled, job, queue


def started(conn: redis.Redis, key: str) -> tuple[SlotWorker, Job, Queue, str]:
    """A slot that has popped and started a fresh ``test:count`` job, and the job's started-registry entry."""
    TaskClient(conn, REGISTRY).enqueue("test:count", {"key": key})
    worker = slot(conn)
    job, queue = popped(worker)
    assert worker.start_job(job, queue) and worker.execution is not None
    return worker, job, queue, f"{job.id}:{worker.execution.id}"


def orphan_scans_requeue(conn: redis.Redis, job_id: str) -> None:
    """Two orphan scans an interval apart, as the pool's maintenance runs them: the job is requeued."""
    clock = time.time()
    sweep = OrphanSweep(conn, TIMES.orphan_scan, lambda: clock)
    assert sweep.run() == []
    conn.delete(ORPHAN_SCAN_LOCK_KEY)
    clock += TIMES.orphan_scan
    assert sweep.run() == [job_id]


def test_an_expired_lease_not_yet_swept_is_kept_by_the_slot_writing_its_outcome(
    redis_conn: redis.Redis,
) -> None:
    """The slot checks its lease before writing an outcome. An entry past its expiry that no sweep has
    taken yet still reads as held; the sweep coming between the check and the write then queued the job
    again while the slot scheduled its retry: one attempt run twice (the suite's attempts [1, 2, 3, 3])."""
    worker, job, _, entry = started(redis_conn, "late")
    redis_conn.zadd("rq:wip:events", {entry: time.time() - 0.5})  # starved past its lease, not swept yet
    assert not worker.lease_lost(job), "nobody took the job: this attempt's outcome stands"
    assert requeue_expired(redis_conn, "events") == [], "a slot about to write its outcome keeps the job"
    assert redis_conn.llen("rq:queue:events") == 0


def test_a_lease_taken_by_the_sweep_is_lost_to_the_slot(redis_conn: redis.Redis) -> None:
    worker, job, _, entry = started(redis_conn, "gone")
    redis_conn.zadd("rq:wip:events", {entry: time.time() - 0.5})
    assert requeue_expired(redis_conn, "events") == [job.id]
    assert worker.lease_lost(job)
    assert redis_conn.zcard("rq:wip:events") == 0, "checking the lease never puts the entry back"


def test_a_success_after_the_sweep_took_the_lease_writes_nothing_of_the_job(redis_conn: redis.Redis) -> None:
    """The lease check and the success's writes are one script: the job the sweep requeued stays queued
    for its next attempt, never marked finished by the attempt that lost it. The same script pops the next
    job, here the requeued one itself, which the slot then runs once, as its next attempt."""
    worker, job, queue, entry = started(redis_conn, "stale")
    redis_conn.zadd("rq:wip:events", {entry: time.time() - 0.5})
    assert requeue_expired(redis_conn, "events") == [job.id]
    job.started_at = job.ended_at = job.last_heartbeat
    worker.handle_job_success(job, queue, queue.started_job_registry)
    assert redis_conn.hget(job.key, "status") == b"queued"
    assert redis_conn.lrange("rq:queue:events:intermediate", 0, -1) == [job.id.encode()]
    assert redis_conn.zcard("rq:finished:events") == 0
    assert redis_conn.hget(worker.key, "current_job") is None, "the slot itself is idle again"
    assert worker.execution is None
    again = worker.dequeue_job_and_maintain_ttl(timeout=1)
    assert again is not None and again[0].id == job.id
    worker.execute_job(*again)
    assert redis_conn.hget(job.key, "status") == b"finished"
    assert redis_conn.hget(EFFECTS, "stale") == b"1"
    assert again[0].meta[ATTEMPTS_META] == 2


def test_a_success_with_the_lease_held_is_written_whole(redis_conn: redis.Redis) -> None:
    worker, job, queue, _ = started(redis_conn, "kept")
    job.started_at = job.ended_at = job.last_heartbeat
    worker.handle_job_success(job, queue, queue.started_job_registry)
    assert redis_conn.hget(job.key, "status") == b"finished"
    assert redis_conn.zcard("rq:wip:events") == 0
    assert redis_conn.zscore("rq:finished:events", job.id) is not None
    assert redis_conn.hget(worker.key, "successful_job_count") == b"1"


def test_a_slot_slow_in_the_dequeue_window_does_not_run_a_job_the_orphan_sweep_requeued(
    redis_conn: redis.Redis,
) -> None:
    """A slot that popped a job and stalled before starting it looks like one that died there; the sweep
    requeues the job and another slot runs it. The slow slot must not run it as well when it resumes."""
    slow, job, queue = popped_then_requeued(redis_conn, "window")
    other = slot(redis_conn)
    other.work(burst=True)
    slow.execute_job(job, queue)
    assert redis_conn.hget(EFFECTS, "window") == b"1"
    assert redis_conn.hget(f"rq:job:{job.id}", "status") == b"finished"
    assert redis_conn.zcard("rq:wip:events") == 0
    assert redis_conn.llen(queue.intermediate_queue_key) == 0


def test_a_slow_slot_resuming_before_the_requeued_copy_is_taken_leaves_it_to_the_queue(
    redis_conn: redis.Redis,
) -> None:
    slow, job, queue = popped_then_requeued(redis_conn, "first")
    slow.execute_job(job, queue)
    assert redis_conn.hget(EFFECTS, "first") is None, "the copy on the queue is the one to run"
    assert redis_conn.lrange(queue.key, 0, -1) == [job.id.encode()]
    slot(redis_conn).work(burst=True)
    assert redis_conn.hget(EFFECTS, "first") == b"1"


def test_a_slow_slot_resuming_while_another_slot_is_mid_dequeue_runs_the_job_once_between_them(
    redis_conn: redis.Redis,
) -> None:
    slow, job, queue = popped_then_requeued(redis_conn, "both")
    other = slot(redis_conn)
    copy, _ = popped(other)  # the requeued copy, popped and loaded, not started yet
    slow.execute_job(job, queue)
    other.execute_job(copy, queue)
    assert redis_conn.hget(EFFECTS, "both") == b"1"
    assert redis_conn.hget(f"rq:job:{job.id}", "status") == b"finished"
    assert redis_conn.llen(queue.intermediate_queue_key) == 0


def test_a_slow_slot_that_loads_the_job_after_its_requeue_runs_it_once_with_the_slot_taking_the_copy(
    redis_conn: redis.Redis,
) -> None:
    """Stalled between the pop and the read of the job: it loads the requeued job, as the next slot does."""
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "late-read"})
    queue = queue_for("events", redis_conn)
    assert Queue.lmove(redis_conn, queue.key, None) is not None  # the slow slot's pop
    orphan_scans_requeue(redis_conn, task.task_id)
    slow_job = Job.fetch(task.task_id, connection=redis_conn, serializer=SERIALIZER)  # its read, after
    other = slot(redis_conn)
    copy, _ = popped(other)
    slot(redis_conn).execute_job(slow_job, queue)
    other.execute_job(copy, queue)
    assert redis_conn.hget(EFFECTS, "late-read") == b"1"
    assert redis_conn.hget(f"rq:job:{task.task_id}", "status") == b"finished"


def test_a_refused_claim_writes_nothing_of_the_start(redis_conn: redis.Redis) -> None:
    """The claim and the start's writes are one script, so no slot can die between them, and a slot
    whose job was requeued meanwhile leaves no trace of a start: no execution, no current job."""
    stalled, job, queue = popped_then_requeued(redis_conn, "handed-on")
    assert not stalled.start_job(job, queue)
    assert redis_conn.hget(job.key, "status") == b"queued"
    assert redis_conn.zcard("rq:wip:events") == 0
    assert redis_conn.keys("rq:execution:*") == []
    assert redis_conn.hget(stalled.key, "current_job") is None
    assert redis_conn.llen("rq:queue:events:intermediate") == 0
    assert stalled.execution is None


def test_a_success_refused_midway_by_a_planted_key_runs_the_job_once_and_leaves_it_finished(
    redis_conn: redis.Redis,
) -> None:
    """A finished registry of another type (planted, or written by hand) refuses one write of a success.
    The success's other writes still land, as in the MULTI/EXEC it replaced: the job is finished and
    its lease ended, so the slot's failure path finds the lease gone and discards the error. A script
    stopping at the refusal left the job finished but leased: the slot retried it, a second run."""
    TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "planted"})
    redis_conn.set("rq:finished:events", "planted")
    worker = slot(redis_conn)
    job, queue = popped(worker)
    worker.execute_job(job, queue)
    assert redis_conn.hget(EFFECTS, "planted") == b"1"
    assert redis_conn.hget(job.key, "status") == b"finished"
    assert redis_conn.zcard("rq:wip:events") == 0
    assert redis_conn.llen("rq:queue:events") == 0
    assert redis_conn.zcard("rq:scheduled:events") == 0
    assert redis_conn.hget(worker.key, "current_job") is None
