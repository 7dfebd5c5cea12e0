"""What a job costs a slot in Redis: the bookkeeping around a job that does nothing, in round trips and
commands. Each round trip costs the slot and redis-server a wake-up (on a busy machine, a wait for a CPU),
so a change that adds one to every job fails here rather than in a benchmark nobody ran."""

from typing import Any, cast

import redis

from config import Settings
from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.worker.slot import SlotPolicy, SlotWorker
from handlers import runtime
from handlers.payloads import Payload
from handlers.registry import Registry, TaskContext, TaskSpec
from handlers.retry import RetryPolicy
from handlers.services import Services
from handlers.wire_format import SERIALIZER
from tests.support.round_trips import RoundTrips

JOBS = 100


class NoopPayload(Payload):
    n: int


def noop(payload: NoopPayload, services: Services, task: TaskContext) -> None:
    """Nothing: whatever Redis sees while it runs is the slot's."""


NOOP = Registry([
    TaskSpec(
        name="test:noop",
        queue="events",
        payload_model=NoopPayload,
        handler=noop,
        retry=RetryPolicy(max_attempts=3, backoff_seconds=1.0),
        timeout_seconds=30,
    )
])  # fmt: skip


def commands(conn: redis.Redis) -> int:
    return sum(int(stats["calls"]) for stats in cast(dict[str, Any], conn.info("commandstats")).values())


def test_a_job_costs_a_slot_two_round_trips(settings: Settings, redis_conn: redis.Redis) -> None:
    """The start claim with the start; the lease check with the outcome and the next job's pop and load,
    with the paused set (a no-op job sends nothing of its own). RQ alone sent 13 (and 43 commands). The
    claim's read of the paused set (a pause exact at the start) is one command of the 41, and the lease's
    score to the fraction at the start another."""
    client = TaskClient(redis_conn, NOOP)
    task_ids = [client.enqueue("test:noop", {"n": n}).task_id for n in range(JOBS + 1)]
    runtime.bind(NOOP, settings)

    def slot() -> SlotWorker:
        connection = redis.Redis.from_url(settings.redis_url)
        return SlotWorker(["events"], connection=connection, serializer=SERIALIZER, policy=SlotPolicy({}))

    slot().work(burst=True, max_jobs=1)  # the first job: connections, registration
    before = commands(redis_conn)
    with RoundTrips() as trips:
        slot().work(burst=True)
    sent = commands(redis_conn) - before - 1  # less the INFO of the second reading

    for task_id in task_ids:
        assert redis_conn.hget(f"rq:job:{task_id}", "status") == b"finished"
    # Per job, with the slot's start and end and its heartbeats (one a second) spread over the jobs.
    assert trips.count / JOBS <= 2.5, trips.count / JOBS
    assert sent / JOBS <= 41, sent / JOBS
