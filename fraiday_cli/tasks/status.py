"""A task's status as callers see it (the API's ``GET /tasks/{id}``, ``fraiday jobs``), from RQ's job."""

from datetime import UTC, datetime
from typing import Literal

import redis
from pydantic import BaseModel, ConfigDict
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.results import Result

from fraiday_cli.tasks.job_loading import Unloadable, load_job
from handlers.wire_format import ATTEMPTS_META, MAX_ATTEMPTS_META, SERIALIZER, TASK_TYPE_META, is_wrong_type


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: str
    task_type: str | None
    queue: str
    status: Literal["queued", "scheduled", "started", "finished", "failed"]
    attempts: int
    max_attempts: int | None
    enqueued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    scheduled_for: datetime | None = None
    last_error: str | None = None


# RQ's finer states, folded into the five the API documents.
STATUS = {
    JobStatus.QUEUED: "queued",
    JobStatus.DEFERRED: "queued",
    JobStatus.SCHEDULED: "scheduled",
    JobStatus.STARTED: "started",
    JobStatus.FINISHED: "finished",
    JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "failed",
    JobStatus.CANCELED: "failed",
}


def as_utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def last_error(job: Job) -> str | None:
    result = job.latest_result()
    if result is None or result.type != Result.Type.FAILED or not result.exc_string:
        return None
    lines = [line for line in result.exc_string.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else None


def describe(job: Job, connection: redis.Redis) -> Task:
    status = STATUS.get(job.get_status(refresh=False) or JobStatus.QUEUED, "queued")
    scheduled_for = None
    if status == "scheduled":
        registry = ScheduledJobRegistry(job.origin, connection=connection, serializer=SERIALIZER)
        scheduled_for = as_utc(registry.get_scheduled_time(job))
    # A planted job's meta may be anything (RQ keeps undecodable meta as {"unserialized": ...}).
    meta = job.meta if isinstance(job.meta, dict) else {}
    task_type = meta.get(TASK_TYPE_META)
    return Task(
        task_id=job.id,
        task_type=task_type if isinstance(task_type, str) else None,
        queue=job.origin,
        status=status,  # type: ignore[arg-type]
        attempts=_count(meta.get(ATTEMPTS_META)) or 0,
        max_attempts=_count(meta.get(MAX_ATTEMPTS_META)),
        enqueued_at=as_utc(job.enqueued_at),
        started_at=as_utc(job.started_at),
        ended_at=as_utc(job.ended_at),
        scheduled_for=scheduled_for,
        last_error=last_error(job) if status in ("failed", "scheduled", "queued") else None,
    )


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_task(connection: redis.Redis, task_id: str) -> Task | None:
    """The task with this id as callers see it, or None when there is none. A job hash RQ cannot load
    (written into Redis by hand) is a task that can never run, not an error of the reader."""
    try:
        job = load_job(connection, task_id)
    except NoSuchJobError:
        return None
    except Unloadable as error:
        return unreadable(task_id, stored_origin(connection, task_id), error)
    return describe(job, connection)


def stored_origin(connection: redis.Redis, task_id: str) -> str:
    """The queue an unloadable job names, if its key is a hash at all."""
    try:
        origin = connection.hget(Job.key_for(task_id), "origin")
    except redis.ResponseError as error:
        if not is_wrong_type(error):
            raise
        return ""
    return origin.decode(errors="replace") if isinstance(origin, bytes) else str(origin or "")


def unreadable(task_id: str, queue: str, error: Unloadable) -> Task:
    """A job hash RQ cannot load (planted by hand): listed with the reason, since it can never run."""
    return Task(
        task_id=task_id,
        task_type=None,
        queue=queue,
        status="failed",
        attempts=0,
        max_attempts=None,
        enqueued_at=None,
        started_at=None,
        ended_at=None,
        last_error=f"unreadable job: {str(error)[:200]}",
    )
