"""Deleting a queue's old failed or finished jobs before RQ's own TTL would (``fraiday purge``)."""

from datetime import UTC, datetime, timedelta

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.results import Result

from fraiday_cli.tasks.inspection import REGISTRIES, registry_ids, stored_time
from fraiday_cli.tasks.job_loading import Unloadable, load_job
from fraiday_cli.tasks.task_queue import queue_for
from handlers.wire_format import SERIALIZER

PURGEABLE = ("failed", "finished")


def purge_ended_jobs(connection: redis.Redis, queue: str, state: str, older_than: timedelta) -> int:
    """Delete the jobs of ``queue`` in ``state`` that ended more than ``older_than`` ago; return how many.

    A job whose hash is already gone counts as old: its registry entry points at nothing. One whose hash
    RQ cannot load (written into Redis by hand) is deleted as it is, without being decoded.
    """
    if state not in PURGEABLE:
        raise ValueError(f"state must be one of {', '.join(PURGEABLE)}, got {state!r}")
    registry = REGISTRIES[state](queue=queue_for(queue, connection), serializer=SERIALIZER)
    cutoff = datetime.now(UTC) - older_than
    ids = registry_ids(registry)
    purged = 0
    for job_id in ids:
        ended = stored_time(connection, job_id, "ended_at")
        if ended is not None and ended >= cutoff:
            continue
        try:
            registry.remove(load_job(connection, job_id), delete_job=True)
        except NoSuchJobError:
            registry.remove(job_id)
        except Unloadable:  # written by hand: delete it as is
            with connection.pipeline() as pipeline:
                pipeline.zrem(registry.key, job_id)
                pipeline.delete(Job.key_for(job_id), Result.get_key(job_id))
                pipeline.execute()
        purged += 1
    return purged
