"""One job as an operator sees it: its status, payload, metadata and whole error text, read as JSON only.

Whoever can write to Redis can plant a job hash. It is read with RQ's JSON serializer and nothing else
(no RQ call here is left to fall back to pickle), and a hash that is not a fraiday job (judged by
``handlers.wire_format``, as the worker judges it) is still shown, with the reason, so an operator can
see and delete it, but it is never decoded further, requeued or re-saved.
"""

import json
import zlib
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import ValidationError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.results import Result

from fraiday_cli.tasks.client import TASK_ID_PATTERN
from fraiday_cli.tasks.job_loading import Unloadable, load_job
from fraiday_cli.tasks.status import STATUS, Task, as_utc, describe, read_task
from handlers.wire_format import read_poison_reason

UNDECODABLE = (ValueError, TypeError, ValidationError, zlib.error)
"""What decoding a planted field raises: bad JSON, base64, zlib or dates, or JSON of the wrong shape."""
UNLOADABLE = "RQ cannot load its hash (written by hand)"


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
    loadable: bool = True
    """False for a hash RQ cannot load at all: it is shown, but no action can take hold of it."""


def _latest_error(job: Job) -> str | None:
    try:
        result = job.latest_result()
    except UNDECODABLE:
        return None
    if result is None or result.type != Result.Type.FAILED:
        return None
    return result.exc_string or None


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
    poison = read_poison_reason(connection, job.id, job.origin)
    problem = poison.detail if poison is not None else None
    if problem is None:
        try:
            task = describe(job, connection)
        except UNDECODABLE:
            problem = "its metadata does not describe a fraiday task"
        else:
            return JobDetails(task, job.args[1], dict(job.meta), _latest_error(job), None)
    return JobDetails(_bare_task(job), None, None, None, problem)


def fetch(connection: redis.Redis, task_id: str) -> Job | None:
    """The job with this id, read with the JSON serializer; None when there is none, :class:`Unloadable`
    when RQ cannot load its hash."""
    if not TASK_ID_PATTERN.fullmatch(task_id):
        return None
    try:
        return load_job(connection, task_id)
    except NoSuchJobError:
        return None


def read(connection: redis.Redis, task_id: str) -> JobDetails | None:
    """The job's details, or None when there is no such job; an unloadable hash is shown as one."""
    try:
        job = fetch(connection, task_id)
    except Unloadable:
        task = read_task(connection, task_id)
        return None if task is None else JobDetails(task, None, None, None, UNLOADABLE, loadable=False)
    return None if job is None else details(job, connection)


def list_details(connection: redis.Redis, ids: list[str]) -> list[JobDetails]:
    """One by one, so one bad hash is a row saying so rather than a failed page."""
    found = (read(connection, task_id) for task_id in ids)
    return [job for job in found if job is not None]


def dumps(value: Any) -> str:
    """A payload or metadata as indented JSON, the way the job page shows it."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
