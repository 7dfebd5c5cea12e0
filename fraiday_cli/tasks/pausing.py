"""Pausing a queue (Asynq's ``PauseQueue``): workers stop taking its jobs; queued ones wait, none lost.

The paused set lives in Redis so every worker sees it; a slot reads it before each dequeue and again in
the step that starts a job (:mod:`fraiday_cli.worker.start_claim`), so no job starts once a pause has
returned (a job popped as it happens goes back to the front of its queue), and a resumed queue's jobs
start within a second: a slot serving a paused queue waits in short steps.

Draining is the rollback step: pause, then wait until the jobs already started have finished, so old and
new workers never run a queue's jobs side by side.
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

import redis
from rq.registry import StartedJobRegistry

from handlers.wire_format import SERIALIZER

PAUSED_KEY = "fraiday:paused_queues"
DRAIN_POLL_SECONDS = 0.5


def pause(connection: redis.Redis, queue: str) -> bool:
    """Pause ``queue``; False if it already was."""
    return bool(connection.sadd(PAUSED_KEY, queue))


def resume(connection: redis.Redis, queue: str) -> bool:
    """Resume ``queue``; False if it was not paused."""
    return bool(connection.srem(PAUSED_KEY, queue))


def paused_queues(connection: redis.Redis) -> set[str]:
    return paused_names(cast(set[bytes], connection.smembers(PAUSED_KEY)))


def paused_names(members: Iterable[bytes | str]) -> set[str]:
    """The queue names of a read of ``PAUSED_KEY`` (a worker sends it with other commands). A member that
    is not UTF-8 was written by hand and names no queue: decoded with replacement, it pauses nothing."""
    return {m.decode(errors="replace") if isinstance(m, bytes) else str(m) for m in members}


def running_jobs(connection: redis.Redis, queue: str) -> int:
    """Jobs of ``queue`` a worker has started and not finished (RQ's started registry, not cleaned)."""
    started = StartedJobRegistry(queue, connection=connection, serializer=SERIALIZER)
    return int(started.get_job_count(cleanup=False))


@dataclass(frozen=True)
class DrainProgress:
    queue: str
    running: int
    elapsed: float
    timeout: float


def drain(
    connection: redis.Redis,
    queue: str,
    timeout: float,
    *,
    on_progress: Callable[[DrainProgress], None] | None = None,
    poll_seconds: float = DRAIN_POLL_SECONDS,
) -> int:
    """Pause ``queue`` and wait up to ``timeout`` seconds for its started jobs to finish.

    Returns how many still run (0: drained). The queue stays paused either way: a drain that timed out
    must not let new jobs start next to the ones still running.
    """
    pause(connection, queue)
    begun = time.monotonic()
    while True:
        running = running_jobs(connection, queue)
        elapsed = time.monotonic() - begun
        if on_progress is not None:
            on_progress(DrainProgress(queue, running, elapsed, timeout))
        if running == 0 or elapsed >= timeout:
            return running
        time.sleep(min(poll_seconds, max(0.0, timeout - elapsed)))
