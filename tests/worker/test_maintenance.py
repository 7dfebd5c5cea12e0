"""The pool's maintenance on real Redis: lease-expiry requeue, the orphan sweep, due jobs and supervision.

Jobs are put in the state a dead slot leaves them in by RQ's own code (a real execution in the started
registry, a real BLMOVE into the intermediate list); only the clock is moved, by rewriting a lease's
expiry into the past or advancing the orphan sweep's clock.
"""

import threading
import time
from datetime import timedelta

import pytest
import redis
from rq.job import Job
from rq.queue import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.scripts import acquire_or_refresh_lock

from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.tasks.task_queue import queue_for
from fraiday_cli.worker.due_jobs import DueJobs
from fraiday_cli.worker.maintenance import Maintenance, MaintenanceThread, RecoveryTimes
from fraiday_cli.worker.recovery import (
    ORPHAN_SCAN_LOCK_KEY,
    ORPHAN_SUSPECTS_KEY,
    OrphanSweep,
    requeue_expired,
)
from fraiday_cli.worker.slot import SlotPolicy, SlotWorker
from handlers.wire_format import SERIALIZER
from tests.processes import wait_for
from tests.support.tasks import REGISTRY

TIMES = RecoveryTimes.within(6)


def running(conn: redis.Redis, key: str = "k") -> tuple[Job, str]:
    """A job as a slot leaves it the moment it is SIGKILLed mid-run: started, in the started registry."""
    task = TaskClient(conn, REGISTRY).enqueue("test:sleep", {"key": key, "seconds": 1})
    queue = queue_for("events", conn)
    worker = SlotWorker([queue], connection=conn, serializer=SERIALIZER, policy=SlotPolicy({}))
    job, _ = Queue.dequeue_any([queue], None, connection=conn, serializer=SERIALIZER) or (None, None)
    assert job is not None and job.id == task.task_id
    assert worker.start_job(job, queue) and worker.execution is not None
    return job, f"{job.id}:{worker.execution.id}"


def expire(conn: redis.Redis, entry: str) -> None:
    conn.zadd("rq:wip:events", {entry: time.time() - 1})


def field(conn: redis.Redis, job_id: str, name: str) -> bytes | None:
    value = conn.hget(f"rq:job:{job_id}", name)
    return value if value is None else bytes(value)


def test_an_expired_lease_puts_the_job_back_at_the_front_using_one_attempt(redis_conn: redis.Redis) -> None:
    job, entry = running(redis_conn)
    TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "waiting"})
    assert requeue_expired(redis_conn, "events") == [], "a live lease is left alone"
    expire(redis_conn, entry)
    assert requeue_expired(redis_conn, "events") == [job.id]
    assert requeue_expired(redis_conn, "events") == [], "requeued once, however many sweepers"
    assert redis_conn.lindex("rq:queue:events", 0) == job.id.encode()
    assert redis_conn.zcard("rq:wip:events") == 0
    assert field(redis_conn, job.id, "status") == b"queued"
    assert field(redis_conn, job.id, "retries_left") == b"1"
    assert not redis_conn.exists(f"rq:execution:{entry}")


def test_an_expired_lease_with_no_attempt_left_fails_the_job(redis_conn: redis.Redis) -> None:
    job, entry = running(redis_conn)
    redis_conn.hset(f"rq:job:{job.id}", "retries_left", 0)
    expire(redis_conn, entry)
    assert requeue_expired(redis_conn, "events") == []
    assert job.id in FailedJobRegistry("events", connection=redis_conn)
    assert field(redis_conn, job.id, "status") == b"failed"
    assert redis_conn.llen("rq:queue:events") == 0
    assert redis_conn.exists(f"rq:execution:{entry}") == 0
    assert entry.encode() not in redis_conn.zrange("rq:wip:events", 0, -1)


def test_an_expired_lease_on_a_hash_rq_cannot_load_fails_it_and_recovers_the_rest(
    redis_conn: redis.Redis,
) -> None:
    """Anyone with Redis access can plant a started job with a date RQ cannot parse: out of attempts it
    must be failed unloaded, not crash recovery on every tick while other jobs' leases stay expired."""
    redis_conn.hset("rq:job:planted", mapping={"status": "started", "created_at": "x", "origin": "events"})
    redis_conn.zadd("rq:wip:events", {"planted:exec": time.time() - 1})
    job, entry = running(redis_conn)
    expire(redis_conn, entry)
    assert requeue_expired(redis_conn, "events") == [job.id]
    assert "planted" in FailedJobRegistry("events", connection=redis_conn)
    assert field(redis_conn, "planted", "status") == b"failed"
    assert redis_conn.zcard("rq:wip:events") == 0


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def next_scan(conn: redis.Redis, clock: Clock) -> None:
    conn.delete(ORPHAN_SCAN_LOCK_KEY)
    clock.now += TIMES.orphan_scan


def test_a_job_popped_by_a_slot_that_died_is_requeued_by_the_second_scan(redis_conn: redis.Redis) -> None:
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "lost"})
    TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "waiting"})
    assert redis_conn.lpop("rq:queue:events") == task.task_id.encode()  # the pop whose answer was lost
    clock = Clock()
    sweep = OrphanSweep(redis_conn, TIMES.orphan_scan, clock)
    found = sweep.find()
    assert list(found) == [task.task_id], "only the popped job: the waiting one is listed"
    assert found[task.task_id].origin == "events"
    assert sweep.run() == [], "first sighting: a healthy slot may be about to start it"
    assert sweep.run() == [], "at most one scan per interval, across pools"
    next_scan(redis_conn, clock)
    assert sweep.run() == [task.task_id]
    assert redis_conn.lindex("rq:queue:events", 0) == task.task_id.encode()
    assert redis_conn.hlen(ORPHAN_SUSPECTS_KEY) == 0


def test_a_job_stuck_in_rq_s_intermediate_list_is_an_orphan_and_leaves_it(redis_conn: redis.Redis) -> None:
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "moved"})
    queue = queue_for("events", redis_conn)
    assert Queue.lmove(redis_conn, queue.key, None) is not None  # a single-queue slot's dequeue
    assert redis_conn.lrange(queue.intermediate_queue_key, 0, -1) == [task.task_id.encode()]
    clock = Clock()
    sweep = OrphanSweep(redis_conn, TIMES.orphan_scan, clock)
    sweep.run()
    next_scan(redis_conn, clock)
    assert sweep.run() == [task.task_id]
    assert redis_conn.lrange(queue.key, 0, -1) == [task.task_id.encode()]
    assert redis_conn.llen(queue.intermediate_queue_key) == 0


def test_a_job_met_in_the_dequeue_window_twice_but_enqueued_again_between_is_not_requeued(
    redis_conn: redis.Redis,
) -> None:
    """A scan can meet a healthy job mid-dequeue; met mid-dequeue again at the next scan, after a run and a
    retry in between, it is not stuck, and requeueing it then would run it twice (an attempt ran twice in
    the suite that way). Only a job unchanged since its first sighting is requeued."""
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "busy"})
    queue = queue_for("events", redis_conn)
    clock = Clock()
    sweep = OrphanSweep(redis_conn, TIMES.orphan_scan, clock)
    assert Queue.lmove(redis_conn, queue.key, None) is not None
    assert sweep.run() == []
    job = Job.fetch(task.task_id, connection=redis_conn, serializer=SERIALIZER)
    redis_conn.lrem(queue.intermediate_queue_key, 1, job.id)  # it ran, failed, and its retry fell due
    queue.enqueue_job(job)
    assert Queue.lmove(redis_conn, queue.key, None) is not None  # and a slot is popping it right now
    next_scan(redis_conn, clock)
    assert sweep.run() == [], "a new dequeue: a first sighting again"
    next_scan(redis_conn, clock)
    assert sweep.run() == [task.task_id], "unchanged since then: stuck after all"


def test_a_garbled_sighting_in_redis_is_a_first_sighting_not_a_crashed_scan(redis_conn: redis.Redis) -> None:
    """Whoever can write to Redis can garble the shared sightings: a scan that crashed on one would crash
    at every interval after, and no lost job would be recovered again."""
    client = TaskClient(redis_conn, REGISTRY)
    lost = [client.enqueue("test:count", {"key": f"lost-{n}"}).task_id for n in range(2)]
    for _ in lost:
        redis_conn.lpop("rq:queue:events")
    enqueued_at = (field(redis_conn, lost[1], "enqueued_at") or b"").decode()
    redis_conn.hset(ORPHAN_SUSPECTS_KEY, lost[0], "no separator")
    redis_conn.hset(ORPHAN_SUSPECTS_KEY, lost[1], f"not a time|queued|{enqueued_at}")  # its state, right
    clock = Clock()
    sweep = OrphanSweep(redis_conn, TIMES.orphan_scan, clock)
    assert sweep.run() == []
    next_scan(redis_conn, clock)
    assert sorted(sweep.run()) == sorted(lost)


def test_a_job_key_that_is_not_utf8_does_not_stop_the_scan(redis_conn: redis.Redis) -> None:
    redis_conn.hset(b"rq:job:\xff\xfe", mapping={"status": "queued", "origin": b"ev\xffents"})
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "lost"})
    redis_conn.lpop("rq:queue:events")
    clock = Clock()
    sweep = OrphanSweep(redis_conn, TIMES.orphan_scan, clock)
    assert sweep.run() == []
    next_scan(redis_conn, clock)
    assert sweep.run() == [task.task_id]


def test_a_running_job_is_no_orphan(redis_conn: redis.Redis) -> None:
    running(redis_conn)
    assert OrphanSweep(redis_conn, TIMES.orphan_scan).find() == {}


def test_due_jobs_move_under_a_bounded_lock_and_one_bad_entry_holds_nothing_up(
    redis_conn: redis.Redis,
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    good = client.enqueue("test:count", {"key": "due"}, delay=timedelta(seconds=1))
    bad = client.enqueue("test:count", {"key": "poison"}, delay=timedelta(seconds=1))
    redis_conn.hset(f"rq:job:{bad.task_id}", "meta", b"\x80not json")
    scheduled = ScheduledJobRegistry("events", connection=redis_conn)
    for job_id in (good.task_id, bad.task_id):
        redis_conn.zadd(scheduled.key, {job_id: int(time.time()) - 1})
    due = DueJobs(redis_conn, ["events"], "test-owner", TIMES.scheduler_lock)
    due.step()
    assert redis_conn.lrange("rq:queue:events", 0, -1) == [good.task_id.encode()]
    assert bad.task_id in FailedJobRegistry("events", connection=redis_conn)
    assert scheduled.count == 0
    lock = RQScheduler.get_locking_key("events")
    assert 0 < redis_conn.ttl(lock) <= TIMES.scheduler_lock
    due.release()
    assert not redis_conn.exists(lock), "released at once on a stop"


def test_crashed_maintenance_is_restarted_at_once_and_its_locks_released(redis_conn: redis.Redis) -> None:
    made: list[Maintenance] = []
    crash = threading.Event()

    class Crashing(Maintenance):
        def step(self) -> None:
            super().step()
            if crash.is_set():
                raise RuntimeError("a bug in maintenance")

    def make() -> Maintenance:
        made.append(Crashing(lambda: redis_conn, ["events"], RecoveryTimes.within(600)))
        return made[-1]

    supervisor = MaintenanceThread(make)
    supervisor.supervise()
    lock = RQScheduler.get_locking_key("events")
    wait_for(lambda: redis_conn.get(lock) == made[0].name.encode(), 10, what="the first one leading")
    crash.set()
    wait_for(lambda: redis_conn.get(lock) != made[0].name.encode(), 10, what="the crashed one's lock gone")
    crash.clear()

    def supervised_again() -> bool:
        # The pool supervises every second: the crashed thread may still be logging after its release.
        supervisor.supervise()
        return len(made) == 2

    wait_for(supervised_again, 10, interval=0.2, what="a second maintenance made")
    assert len(made) == 2
    wait_for(lambda: redis_conn.get(lock) == made[1].name.encode(), 10, what="the restarted one leading")
    supervisor.stop()
    assert not redis_conn.exists(lock)


@pytest.mark.parametrize("recovery", [6, 60, 3600])
def test_recovery_times_add_up_within_the_bound(recovery: int) -> None:
    times = RecoveryTimes.within(recovery)
    assert times.lease + times.sweep < recovery, "a dead slot's job back on its queue"
    assert 2 * times.orphan_scan < recovery, "a popped-and-lost job back on its queue"
    assert times.scheduler_lock < recovery


def test_another_owner_s_lock_is_respected(redis_conn: redis.Redis) -> None:
    acquire_or_refresh_lock(redis_conn, RQScheduler.get_locking_key("events"), "rq-scheduler", 60)
    client = TaskClient(redis_conn, REGISTRY)
    task = client.enqueue("test:count", {"key": "due"}, delay=timedelta(seconds=1))
    redis_conn.zadd(ScheduledJobRegistry("events", connection=redis_conn).key, {task.task_id: 0})
    DueJobs(redis_conn, ["events"], "fraiday", TIMES.scheduler_lock).step()
    assert redis_conn.llen("rq:queue:events") == 0, "a stock RQ scheduler holding the lock moves it"
    assert StartedJobRegistry("events", connection=redis_conn).count == 0
