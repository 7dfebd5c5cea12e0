"""Moving scheduled jobs (retries after backoff, delayed tasks) to their queues when they fall due.

This replaces RQ's scheduler process for fraiday's pools. RQ's takes a per-queue lock for 61 s and dies
on the first Redis error; once dead, its lock must expire and a slot's maintenance must notice before
another takes over, so due jobs waited about a minute. Here the lock is the same key RQ uses (a stock RQ
scheduler and this one never both move a queue's jobs), but its TTL is bounded by the recovery time, it
is released at once when its holder stops or dies in its pool, and a Redis error only pauses the loop.

A scheduled job that cannot be loaded (a hash that is not fraiday's JSON) is moved to the failed
registry with the reason: one bad entry never holds up the due jobs behind it.
"""

import logging
import time

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.scheduler import RQScheduler
from rq.scripts import acquire_or_refresh_lock, release_lock

from fraiday_cli.tasks.client import FAILURE_TTL_SECONDS, queue_for
from handlers.wire_format import JOB_KEY_PREFIX, SERIALIZER

log = logging.getLogger("fraiday.worker")


class DueJobs:
    def __init__(self, connection: redis.Redis, queues: list[str], token: str, lock_seconds: int) -> None:
        self.connection = connection
        self.queues = queues
        self.token = token
        """The lock owner's name: unique per maintenance run, so a restarted one never reuses a lock."""
        self.lock_seconds = lock_seconds
        self.leading: set[str] = set()

    def step(self) -> int:
        """Hold or seek each queue's lock; for the queues held, enqueue every job now due."""
        moved = 0
        for name in self.queues:
            outcome = acquire_or_refresh_lock(
                self.connection, RQScheduler.get_locking_key(name), self.token, self.lock_seconds
            )
            if outcome == "taken":
                self.leading.discard(name)
                continue
            self.leading.add(name)
            moved += self._move_due(name)
        return moved

    def release(self) -> None:
        for name in sorted(self.leading):
            release_lock(self.connection, RQScheduler.get_locking_key(name), self.token)
        self.leading.clear()

    def _move_due(self, name: str) -> int:
        registry = ScheduledJobRegistry(name, connection=self.connection, serializer=SERIALIZER)
        queue = queue_for(name, self.connection)
        due = registry.get_jobs_to_schedule(int(time.time()))
        for job_id in due:
            try:
                self._move(job_id, queue, registry)
            except redis.RedisError:
                raise
            except Exception as error:  # a job that cannot be read or written back is dead-lettered
                self._dead_letter(name, job_id, f"scheduled job could not be enqueued: {error!r}")
        return len(due)

    def _move(self, job_id: str, queue: Queue, registry: ScheduledJobRegistry) -> None:
        try:
            job = Job.fetch(job_id, connection=self.connection, serializer=SERIALIZER)
        except NoSuchJobError:
            registry.remove(job_id)
            return
        with self.connection.pipeline() as pipeline:
            queue.enqueue_job(job, pipeline=pipeline, at_front=job.should_enqueue_at_front())
            registry.remove(job, pipeline=pipeline)
            pipeline.execute()

    def _dead_letter(self, name: str, job_id: str, reason: str) -> None:
        log.error("job %s on %s moved to the failed registry: %s", job_id, name, reason)
        failed = FailedJobRegistry(name, connection=self.connection, serializer=SERIALIZER)
        with self.connection.pipeline() as pipeline:
            pipeline.zrem(ScheduledJobRegistry(name, connection=self.connection).key, job_id)
            pipeline.zadd(failed.key, {job_id: time.time() + FAILURE_TTL_SECONDS})
            pipeline.hset(JOB_KEY_PREFIX + job_id, "status", JobStatus.FAILED.value)
            pipeline.hset(JOB_KEY_PREFIX + job_id, "exc_info", reason)
            pipeline.execute()
