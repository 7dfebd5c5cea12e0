"""The queue operations the CLI and the dashboard share, called as library functions on a real Redis."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry

from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.tasks.inspection import list_jobs
from fraiday_cli.tasks.pausing import DrainProgress, drain, paused_queues, running_jobs
from fraiday_cli.tasks.purging import purge_ended_jobs
from handlers.wire_format import SERIALIZER
from tests.support.tasks import REGISTRY


def _fail(connection: redis.Redis, task_id: str, ended: datetime) -> None:
    """Put an enqueued job in the failed registry as a worker would, having ended at ``ended``."""
    job = Job.fetch(task_id, connection=connection, serializer=SERIALIZER)
    connection.lrem(f"rq:queue:{job.origin}", 0, task_id)
    job.ended_at = ended.replace(tzinfo=None)
    job.save()
    FailedJobRegistry(job.origin, connection=connection, serializer=SERIALIZER).add(job, ttl=3600)


def test_list_jobs_reads_each_state_up_to_the_limit(redis_conn: redis.Redis) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    pending = [client.enqueue("test:count", {"key": f"k{i}"}).task_id for i in range(3)]
    client.enqueue("test:count", {"key": "later"}, delay=timedelta(hours=1))
    _fail(redis_conn, pending[0], datetime.now(UTC))

    assert [t.task_id for t in list_jobs(redis_conn, "events", "pending", 10)] == pending[1:]
    assert [t.task_id for t in list_jobs(redis_conn, "events", "pending", 1)] == pending[1:2]
    (scheduled,) = list_jobs(redis_conn, "events", "scheduled", 10)
    assert scheduled.status == "scheduled" and scheduled.scheduled_for is not None
    assert [t.task_id for t in list_jobs(redis_conn, "events", "failed", 10)] == pending[:1]
    assert list_jobs(redis_conn, "events", "finished", 10) == []
    with pytest.raises(ValueError, match="state must be one of pending, scheduled"):
        list_jobs(redis_conn, "events", "lost", 10)


def test_purge_deletes_only_jobs_that_ended_before_the_cut_off(redis_conn: redis.Redis) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    old, recent = (client.enqueue("test:count", {"key": k}).task_id for k in ("old", "recent"))
    _fail(redis_conn, old, datetime.now(UTC) - timedelta(days=8))
    _fail(redis_conn, recent, datetime.now(UTC) - timedelta(hours=1))

    assert purge_ended_jobs(redis_conn, "events", "failed", timedelta(days=7)) == 1
    failed = FailedJobRegistry("events", connection=redis_conn, serializer=SERIALIZER)
    assert failed.get_job_ids() == [recent]
    assert not Job.exists(old, connection=redis_conn)
    assert purge_ended_jobs(redis_conn, "events", "finished", timedelta(0)) == 0
    with pytest.raises(ValueError, match="state must be one of failed, finished"):
        purge_ended_jobs(redis_conn, "events", "pending", timedelta(0))


def test_drain_pauses_and_reports_progress_until_the_timeout(redis_conn: redis.Redis) -> None:
    seen: list[DrainProgress] = []
    assert drain(redis_conn, "events", 5, on_progress=seen.append) == 0
    assert "events" in paused_queues(redis_conn)
    assert [(p.running, p.timeout) for p in seen] == [(0, 5)]

    task_id = TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "busy"}).task_id
    started = StartedJobRegistry("events", connection=redis_conn, serializer=SERIALIZER)
    redis_conn.zadd(started.key, {f"{task_id}:execution": time.time() + 60})  # as a running slot does
    assert running_jobs(redis_conn, "events") == 1
    seen.clear()
    assert drain(redis_conn, "events", 0.3, on_progress=seen.append, poll_seconds=0.1) == 1
    assert len(seen) >= 2 and all(p.running == 1 for p in seen)
    assert seen[-1].elapsed >= 0.3
    assert "events" in paused_queues(redis_conn), "a drain that timed out leaves the queue paused"
