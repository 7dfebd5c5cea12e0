"""Task status: what a caller holding a task id may know about it, from RQ's job record."""

from datetime import UTC, datetime

import redis
from flask import Response, jsonify
from flask_openapi3.blueprint import APIBlueprint
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.results import Result
from rq.serializers import JSONSerializer

from fraiday_cli.server.api.common import ERRORS, SECURITY, tag
from fraiday_cli.server.api.schemas import Task, TaskPath
from fraiday_cli.server.errors import not_found
from fraiday_cli.server.resources import resources
from fraiday_cli.tasks.client import TASK_TYPE_META
from handlers.dispatch import ATTEMPTS_META, MAX_ATTEMPTS_META

blueprint = APIBlueprint(
    "tasks",
    __name__,
    url_prefix="/api/v1/tasks",
    abp_tags=tag("tasks", "Task status"),
    abp_security=SECURITY,
    abp_responses=ERRORS,
)

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


def _utc(moment: datetime | None) -> datetime | None:
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
        registry = ScheduledJobRegistry(job.origin, connection=connection, serializer=JSONSerializer)
        scheduled_for = _utc(registry.get_scheduled_time(job))
    return Task(
        task_id=job.id,
        task_type=job.meta.get(TASK_TYPE_META),
        queue=job.origin,
        status=status,  # type: ignore[arg-type]
        attempts=int(job.meta.get(ATTEMPTS_META, 0)),
        max_attempts=job.meta.get(MAX_ATTEMPTS_META),
        enqueued_at=_utc(job.enqueued_at),
        started_at=_utc(job.started_at),
        ended_at=_utc(job.ended_at),
        scheduled_for=scheduled_for,
        last_error=last_error(job) if status in ("failed", "scheduled", "queued") else None,
    )


@blueprint.get("/<task_id>", responses={200: Task}, summary="Read a task's status")
def get_task(path: TaskPath) -> Response:
    connection = resources().redis
    try:
        job = Job.fetch(path.task_id, connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:
        raise not_found("task", path.task_id) from None
    return jsonify(describe(job, connection).model_dump(mode="json"))
