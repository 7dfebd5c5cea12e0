"""The dead-letter queue is RQ's failed-job registry; requeueing gives a task a fresh retry budget.

A task lands there after its last attempt; an operator requeues it once the cause is fixed (an outage
over, a bad deploy rolled back), so it deserves all its attempts again, not a single one. A job that is
not fraiday's (see ``handlers.wire_format``) lands there unrun, with the reason, and is never requeued:
no fix on our side makes it runnable, and it must not stop the good jobs around it.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis
from redis.client import Pipeline
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.results import Result
from rq.utils import utcformat

from fraiday_cli.tasks.client import FAILURE_TTL_SECONDS
from fraiday_cli.tasks.inspection import registry_ids
from fraiday_cli.tasks.job_loading import Unloadable, load_job
from handlers.wire_format import MAX_ATTEMPTS_META, SERIALIZER, read_poison_reason


def dead_letter(connection: redis.Redis, pipeline: Pipeline, queue: str, job_id: str, reason: str) -> None:
    """Fail a job that must not run, writing only its status and the reason: its data and meta are not
    ours, so they are never loaded or saved again (RQ's own failure path would re-save them)."""
    ended = datetime.now(UTC)
    key = Job.key_for(job_id)
    kind = connection.type(key)
    if (kind.decode() if isinstance(kind, bytes) else kind) not in ("hash", "none"):
        pipeline.delete(key)  # a string, say: the HSET below would fail the whole record; it held no job
    failed = FailedJobRegistry(queue, connection=connection, serializer=SERIALIZER)
    pipeline.zadd(failed.key, {job_id: ended.timestamp() + FAILURE_TTL_SECONDS})
    pipeline.hset(key, mapping={"status": JobStatus.FAILED.value, "ended_at": utcformat(ended)})
    pipeline.expire(key, FAILURE_TTL_SECONDS)
    try:
        stub = Job(job_id, connection=connection, serializer=SERIALIZER)
    except ValueError:  # an id RQ refuses (written by hand): readers list it as unreadable, with RQ's reason
        return
    Result.create_failure(stub, FAILURE_TTL_SECONDS, reason, pipeline=pipeline)


@dataclass
class Requeued:
    requeued: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    """Failed jobs left where they are, with the reason (not fraiday jobs, so never runnable)."""


def requeue_failed(
    connection: redis.Redis, queues: Sequence[str], task_ids: Sequence[str] | None = None
) -> Requeued:
    outcome = Requeued()
    for name in queues:
        failed = FailedJobRegistry(name, connection=connection, serializer=SERIALIZER)
        candidates = registry_ids(failed) if task_ids is None else [i for i in task_ids if i in failed]
        for task_id in candidates:
            poison = read_poison_reason(connection, task_id, name)
            if poison is not None:
                outcome.refused[task_id] = str(poison)
                continue
            try:
                job = load_job(connection, task_id)
                attempts = int(job.meta.get(MAX_ATTEMPTS_META, 1))
                job.retries_left = attempts - 1 if attempts > 1 else None
                job.save(include_meta=False)
                failed.requeue(job)
            except (NoSuchJobError, InvalidJobOperation):
                continue
            except (Unloadable, ValueError, TypeError) as error:  # a stored field RQ or we cannot read
                outcome.refused[task_id] = f"unreadable job: {error}"
                continue
            outcome.requeued.append(task_id)
    return outcome
