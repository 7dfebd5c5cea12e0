"""What a slot does with a popped job it must not run: the dequeue's refusals.

Each leaves RQ's intermediate list in the same step, since RQ's cleanup of that list fails a job it finds
there as stuck and retries it: a second run of a job that never started.
"""

import logging
from collections.abc import Sequence

import redis
from rq.queue import Queue

from fraiday_cli.tasks.dead_letters import dead_letter
from handlers.metrics import POISON_JOBS
from handlers.wire_format import Poison

log = logging.getLogger("fraiday.worker")


def put_back(connection: redis.Redis, job_id: str | bytes, queue: Queue, why: str) -> None:
    """Return a popped job that will not run now to the front of its queue."""
    with connection.pipeline() as pipeline:
        pipeline.lrem(queue.intermediate_queue_key, 1, job_id)  # type: ignore[arg-type]  # bytes work
        pipeline.lpush(queue.key, job_id)
        pipeline.execute()
    shown = job_id if isinstance(job_id, str) else job_id.decode(errors="replace")
    log.info("put %s back on %s: %s", shown, queue.name, why)


def drop_undecodable(connection: redis.Redis, queues: Sequence[Queue], raw: bytes) -> None:
    """Forget a popped id that is not UTF-8 (written by hand), instead of the slot dying on it: it is
    off its queue already, and out of RQ's intermediate list, where a one-queue slot's pop moves it."""
    queue = queues[0].name if len(queues) == 1 else "unknown"
    if len(queues) == 1:
        connection.lrem(queues[0].intermediate_queue_key, 1, raw)  # type: ignore[arg-type]  # bytes work
    POISON_JOBS.labels(queue, "unreadable").inc()
    log.error("popped %r from %s and dropped it: not a job id (not UTF-8)", raw[:100], queue)


def refuse(connection: redis.Redis, queue: Queue, job_id: str, poison: Poison) -> None:
    """A job that is not fraiday's goes to the failed registry unrun, with the reason, counted."""
    with connection.pipeline() as pipeline:
        pipeline.lrem(queue.intermediate_queue_key, 1, job_id)
        dead_letter(connection, pipeline, queue.name, job_id, str(poison))
        pipeline.execute()
    POISON_JOBS.labels(queue.name, poison.kind).inc()
    log.error("job %s on %s moved to the failed registry unrun: %s", job_id, queue.name, poison)
