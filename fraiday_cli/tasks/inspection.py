"""What is in the queues, read from RQ's keys without changing them (no registry cleanup runs here).

One reading serves ``fraiday queues`` and the ``fraiday_queue_depth`` gauge: operators never need
``redis-cli LLEN`` again.
"""

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, cast

import redis
from rq.job import Job
from rq.registry import (
    BaseRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.utils import str_to_date
from rq.worker import BaseWorker, Worker

from fraiday_cli.tasks.job_loading import readable_ids
from fraiday_cli.tasks.pausing import paused_queues
from fraiday_cli.tasks.status import Task, as_utc, read_task
from fraiday_cli.tasks.task_queue import queue_for
from handlers.wire_format import SERIALIZER, is_wrong_type

REGISTRIES: dict[str, type[BaseRegistry]] = {
    "scheduled": ScheduledJobRegistry,
    "started": StartedJobRegistry,
    "failed": FailedJobRegistry,
    "finished": FinishedJobRegistry,
}
"""RQ's registry for each job state but ``pending`` (the queue's own list)."""

JOB_STATES = ("pending", *REGISTRIES)


@dataclass(frozen=True)
class QueueStats:
    queue: str
    pending: int
    scheduled: int
    started: int
    failed: int
    finished: int
    workers: int
    oldest_pending_seconds: float | None
    paused: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def queue_stats(connection: redis.Redis, name: str, paused: bool = False) -> QueueStats:
    queue = queue_for(name, connection)
    oldest = None
    first = readable_ids(connection.lrange(queue.key, 0, 0))
    enqueued = stored_time(connection, first[0], "enqueued_at") if first else None
    if enqueued is not None:
        oldest = round((datetime.now(UTC) - enqueued).total_seconds(), 3)
    counts = {
        state: registry(queue=queue, serializer=queue.serializer).get_job_count(cleanup=False)
        for state, registry in REGISTRIES.items()
    }
    return QueueStats(
        queue=name,
        pending=queue.count,
        workers=Worker.count(connection=connection, queue=queue),
        oldest_pending_seconds=oldest,
        paused=paused,
        **counts,
    )


def stored_time(connection: redis.Redis, job_id: str, field: str) -> datetime | None:
    """Read from the one field, not the whole job: a hash planted or half-expired in a queue or registry
    must not break ``fraiday queues``, ``purge`` or the dashboard."""
    try:
        raw = cast(bytes | None, connection.hget(Job.key_for(job_id), field))
    except redis.ResponseError as error:
        if not is_wrong_type(error):
            raise
        return None
    try:
        return as_utc(str_to_date(raw)) if raw else None
    except ValueError:
        return None


def all_queue_stats(connection: redis.Redis, names: list[str]) -> list[QueueStats]:
    paused = paused_queues(connection)
    return [queue_stats(connection, name, name in paused) for name in names]


def list_jobs(connection: redis.Redis, queue: str, state: str, limit: int) -> list[Task]:
    """The first ``limit`` jobs of ``queue`` in ``state``, oldest first, as callers see a task."""
    tasks = (read_task(connection, task_id) for task_id in job_ids(connection, queue, state, 0, limit))
    return [task for task in tasks if task is not None]


def job_ids(connection: redis.Redis, queue: str, state: str, start: int, count: int) -> list[str]:
    """Up to ``count`` ids of ``queue``'s jobs in ``state``, oldest first, from position ``start``."""
    source = queue_for(queue, connection)
    end = start + count - 1 if count >= 0 else -1
    if state == "pending":
        return readable_ids(connection.lrange(source.key, start, end))
    if state in REGISTRIES:
        return registry_ids(REGISTRIES[state](queue=source, serializer=SERIALIZER), start, end)
    raise ValueError(f"state must be one of {', '.join(JOB_STATES)}, got {state!r}")


def registry_ids(registry: BaseRegistry, start: int = 0, end: int = -1) -> list[str]:
    """RQ's ``get_job_ids`` without its cleanup, and leaving out ids that are not UTF-8."""
    members = cast(list[bytes], registry.connection.zrange(registry.key, start, end))
    return [registry.parse_job_id(job_id) for job_id in readable_ids(members)]


def list_workers(connection: redis.Redis) -> list[BaseWorker]:
    """Every registered worker by name; a registration whose hash does not parse is left out, not fatal."""
    found = []
    for key in Worker.all_keys(connection=connection):
        try:
            worker = Worker.find_by_key(key, connection=connection, serializer=SERIALIZER)
        except ValueError:
            continue
        if worker is not None:
            found.append(worker)
    return sorted(found, key=lambda worker: worker.name)
