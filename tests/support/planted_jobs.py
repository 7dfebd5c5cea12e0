"""Jobs put in Redis the way a worker or an attacker would leave them, for the dashboard's tests.

``dead_letter`` does what RQ's worker does on a task's last failure (without running one, so a test
can choose the error text); ``plant_pickled`` writes a raw job hash as anyone with Redis access could,
with a pickle whose unpickling creates a file: that file appearing is proof something unpickled it.
"""

import json
import pickle
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.results import Result
from rq.utils import utcformat

from fraiday_cli.tasks.client import FAILURE_TTL_SECONDS
from fraiday_cli.tasks.inspection import REGISTRIES
from fraiday_cli.tasks.task_queue import queue_for
from handlers.wire_format import JOB_FUNCTION, SERIALIZER, TASK_TYPE_META


def dead_letter(connection: redis.Redis, task_id: str, error: str) -> None:
    """Move a pending job to the failed registry with ``error`` as its traceback, as a worker would."""
    job = Job.fetch(task_id, connection=connection, serializer=SERIALIZER)
    queue_for(job.origin, connection).remove(job)
    job.ended_at = datetime.now(UTC)
    job.set_status(JobStatus.FAILED)
    Result.create_failure(job, FAILURE_TTL_SECONDS, error)
    FailedJobRegistry(job.origin, connection=connection, serializer=SERIALIZER).add(
        job, FAILURE_TTL_SECONDS, exc_string=error
    )


class FileCreatingPickle:
    """Unpickling this opens (so creates) ``path``; any code path that unpickles it leaves the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def plant_pickled(
    connection: redis.Redis,
    task_id: str,
    queue: str,
    trap: Path,
    *,
    pickled: str = "meta",
    state: str = "failed",
) -> dict[bytes, bytes]:
    """A job hash whose ``meta`` (or ``data``) is the trap pickle, listed in ``state`` (its status says
    failed whatever the state: a planted hash says what it likes); returns the hash as written."""
    now = utcformat(datetime.now(UTC))
    data: bytes = json.dumps([JOB_FUNCTION, None, ["event:process", {"event_id": "x"}], {}]).encode()
    meta = json.dumps({TASK_TYPE_META: "event:process"}).encode()
    if pickled == "meta":
        meta = pickle.dumps({TASK_TYPE_META: "event:process", "x": FileCreatingPickle(trap)})
    else:
        data = pickle.dumps((FileCreatingPickle(trap), None, (), {}))
    fields = {
        b"data": zlib.compress(data),
        b"meta": meta,
        b"origin": queue.encode(),
        b"status": b"failed",
        b"description": b"planted",
        b"created_at": now.encode(),
        b"enqueued_at": now.encode(),
        b"ended_at": now.encode(),
        b"failure_ttl": str(FAILURE_TTL_SECONDS).encode(),
    }
    connection.hset(f"rq:job:{task_id}", mapping=fields)
    if state == "pending":
        connection.rpush(queue_for(queue, connection).key, task_id)
    else:
        expires = datetime.now(UTC) + timedelta(seconds=FAILURE_TTL_SECONDS)
        registry = REGISTRIES[state](queue, connection=connection, serializer=SERIALIZER)
        member = f"{task_id}:planted" if state == "started" else task_id  # job_id:execution_id there
        connection.zadd(registry.key, {member: expires.timestamp()})
    return fields
