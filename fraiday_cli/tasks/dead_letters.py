"""The dead-letter queue is RQ's failed-job registry; requeueing gives a task a fresh retry budget.

A task lands there after its last attempt; an operator requeues it once the cause is fixed (an outage
over, a bad deploy rolled back), so it deserves all its attempts again, not a single one.
"""

from collections.abc import Sequence

import redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from handlers.wire_format import MAX_ATTEMPTS_META, SERIALIZER


def requeue_failed(
    connection: redis.Redis, queues: Sequence[str], task_ids: Sequence[str] | None = None
) -> list[str]:
    requeued: list[str] = []
    for name in queues:
        failed = FailedJobRegistry(name, connection=connection, serializer=SERIALIZER)
        candidates = failed.get_job_ids() if task_ids is None else [i for i in task_ids if i in failed]
        for task_id in candidates:
            try:
                job = Job.fetch(task_id, connection=connection, serializer=SERIALIZER)
                attempts = int(job.meta.get(MAX_ATTEMPTS_META, 1))
                job.retries_left = attempts - 1 if attempts > 1 else None
                job.save_meta()
                job.save(include_meta=False)
                failed.requeue(job)
            except (NoSuchJobError, InvalidJobOperation):
                continue
            requeued.append(task_id)
    return requeued
