"""One job as an operator sees it: its status, payload, metadata and whole error text, read as JSON only.

Whoever can write to Redis can plant a job hash. It is read with RQ's JSON serializer and nothing else
(no RQ call here is left to fall back to pickle), and a hash that is not a fraiday job (metadata or data
not JSON, another function than the dispatcher) is still shown, with the reason, so an operator can see
and delete it, but it is never decoded further, requeued or re-saved.
"""

import json
import zlib
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import ValidationError
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.results import Result

from fraiday_cli.tasks.client import TASK_ID_PATTERN
from fraiday_cli.tasks.status import STATUS, Task, as_utc, describe
from handlers.wire_format import JOB_FUNCTION, SERIALIZER

UNDECODABLE = (ValueError, TypeError, ValidationError, zlib.error)
"""What decoding a planted field raises: bad JSON, base64, zlib or dates, or JSON of the wrong shape."""


@dataclass(frozen=True)
class JobDetails:
    task: Task
    payload: Any
    meta: dict[str, Any] | None
    error: str | None
    """The whole text of the latest failure (a traceback), for the job page; ``task.last_error`` is its
    last line."""
    problem: str | None
    """Why this hash is not a fraiday job, or None when it is one."""


def _latest_error(job: Job) -> str | None:
    try:
        result = job.latest_result()
    except UNDECODABLE:
        return None
    if result is None or result.type != Result.Type.FAILED:
        return None
    return result.exc_string or None


def _problem(job: Job) -> str | None:
    if isinstance(job.meta.get("unserialized"), bytes):  # RQ's fallback when meta does not decode
        return "its metadata is not JSON"
    try:
        function, args, kwargs = job.func_name, job.args, job.kwargs
    except DeserializationError:
        return "its data is not JSON"
    if function != JOB_FUNCTION:
        return f"it names the function {function!r}, not fraiday's dispatcher"
    if kwargs or len(args) != 2 or not isinstance(args[0], str):
        return "its arguments are not a task type and a payload"
    return None


def _bare_task(job: Job) -> Task:
    """The fields that need nothing decoded, for a hash that is not a fraiday job."""
    return Task(
        task_id=job.id,
        task_type=None,
        queue=job.origin,
        status=STATUS.get(job.get_status(refresh=False) or JobStatus.QUEUED, "queued"),  # type: ignore[arg-type]
        attempts=0,
        max_attempts=None,
        enqueued_at=as_utc(job.enqueued_at),
        started_at=as_utc(job.started_at),
        ended_at=as_utc(job.ended_at),
    )


def details(job: Job, connection: redis.Redis) -> JobDetails:
    problem = _problem(job)
    if problem is None:
        try:
            task = describe(job, connection)
        except UNDECODABLE:
            problem = "its metadata does not describe a fraiday task"
        else:
            return JobDetails(task, job.args[1], dict(job.meta), _latest_error(job), None)
    return JobDetails(_bare_task(job), None, None, None, problem)


def fetch(connection: redis.Redis, task_id: str) -> Job | None:
    """The job with this id, read with the JSON serializer; None when there is none, or its hash is not
    an RQ job at all (no data, dates that do not parse)."""
    if not TASK_ID_PATTERN.fullmatch(task_id):
        return None
    try:
        return Job.fetch(task_id, connection=connection, serializer=SERIALIZER)
    except (NoSuchJobError, *UNDECODABLE):
        return None


def list_details(connection: redis.Redis, ids: list[str]) -> list[JobDetails]:
    """One by one, so an unreadable hash drops out of the list instead of failing the whole page."""
    jobs = (fetch(connection, task_id) for task_id in ids)
    return [details(job, connection) for job in jobs if job is not None]


def dumps(value: Any) -> str:
    """A payload or metadata as indented JSON, the way the job page shows it."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
