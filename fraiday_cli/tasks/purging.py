"""Deleting a queue's old failed or finished jobs before RQ's own TTL would (``fraiday purge``)."""

from datetime import UTC, datetime, timedelta

import redis
from rq.job import Job

from fraiday_cli.tasks.client import queue_for
from fraiday_cli.tasks.inspection import REGISTRIES
from fraiday_cli.tasks.status import as_utc
from handlers.wire_format import SERIALIZER

PURGEABLE = ("failed", "finished")


def purge_ended_jobs(connection: redis.Redis, queue: str, state: str, older_than: timedelta) -> int:
    """Delete the jobs of ``queue`` in ``state`` that ended more than ``older_than`` ago; return how many.

    A job whose hash is already gone counts as old: its registry entry points at nothing.
    """
    if state not in PURGEABLE:
        raise ValueError(f"state must be one of {', '.join(PURGEABLE)}, got {state!r}")
    registry = REGISTRIES[state](queue=queue_for(queue, connection), serializer=SERIALIZER)
    cutoff = datetime.now(UTC) - older_than
    ids = registry.get_job_ids(cleanup=False)
    purged = 0
    for job_id, job in zip(
        ids, Job.fetch_many(ids, connection=connection, serializer=SERIALIZER), strict=True
    ):
        ended = as_utc(job.ended_at) if job is not None else None
        if ended is None or ended < cutoff:
            registry.remove(job_id, delete_job=True)
            purged += 1
    return purged
