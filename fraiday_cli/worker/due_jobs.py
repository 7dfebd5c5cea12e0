"""Moving scheduled jobs (retries after backoff, delayed tasks) to their queues when they fall due.

This replaces RQ's scheduler process for fraiday's pools. RQ's takes a per-queue lock for 61 s and dies
on the first Redis error; once dead, its lock must expire and a slot's maintenance must notice before
another takes over, so due jobs waited about a minute. Here the lock is the same key RQ uses (a stock RQ
scheduler and this one never both move a queue's jobs), but its TTL is bounded by the recovery time, it
is released at once when its holder stops or dies in its pool, and a Redis error only pauses the loop.

A scheduled job that is not a fraiday job (``handlers.wire_format``), or that RQ cannot load, is moved
to the failed registry unrun, with the reason, and an entry that is not a job id at all (not UTF-8) is
removed: one bad entry never holds up the due jobs behind it.
"""

import logging
import time
from typing import cast

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.queue import Queue
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler
from rq.scripts import acquire_or_refresh_lock, release_lock

from fraiday_cli.tasks.dead_letters import dead_letter
from fraiday_cli.tasks.task_queue import queue_for
from handlers.metrics import POISON_JOBS
from handlers.wire_format import SERIALIZER, Poison, read_poison_reason

log = logging.getLogger("fraiday.worker")

DUE_BATCH = 1000
"""Due jobs moved per tick and queue, as RQ's ``get_jobs_to_schedule`` reads them."""


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
        now = int(time.time())
        due = cast(list[bytes], self.connection.zrangebyscore(registry.key, 0, now, start=0, num=DUE_BATCH))
        for raw in due:
            try:
                job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
            except UnicodeDecodeError:  # RQ's get_jobs_to_schedule failed on it at every tick
                self.connection.zrem(registry.key, raw)
                POISON_JOBS.labels(name, "unreadable").inc()
                log.error("scheduled entry %r on %s removed: not a job id (not UTF-8)", raw[:100], name)
                continue
            poison = read_poison_reason(self.connection, job_id, name)
            if poison is None:
                try:
                    self._move(job_id, queue, registry)
                    continue
                except redis.RedisError:
                    raise
                except Exception as error:  # a field RQ cannot read or write back
                    poison = Poison.unreadable(error)
            self._dead_letter(name, job_id, poison)
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

    def _dead_letter(self, name: str, job_id: str, poison: Poison) -> None:
        with self.connection.pipeline() as pipeline:
            pipeline.zrem(ScheduledJobRegistry(name, connection=self.connection).key, job_id)
            dead_letter(self.connection, pipeline, name, job_id, str(poison))
            pipeline.execute()
        POISON_JOBS.labels(name, poison.kind).inc()
        log.error("scheduled job %s on %s moved to the failed registry unrun: %s", job_id, name, poison)
