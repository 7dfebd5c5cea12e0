"""What a fraiday job looks like in Redis: the function RQ calls, the serializer, the meta keys, the keys.

Every producer (the task client, the Celery bridge, the periodic scheduler) and every reader (workers,
``fraiday jobs``, the API's task status, the dashboard) asks this module, so the format is defined once.
It lives below the server and the worker because both use it, and it imports nothing of ours.

Whoever can write to Redis can also write a job that is not fraiday's: one naming ``os.system``, or
carrying pickles. :func:`poison_reason` judges a stored job against this format from its raw hash,
without unpickling, importing or calling anything in it, so such a job is refused before it can run.
"""

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import redis
from rq.job import Job
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.worker import Worker

JOB_FUNCTION = "handlers.dispatch.run_task"
"""The only function a fraiday job may name; its arguments are ``[task_type, payload]``."""

SERIALIZER = JSONSerializer
"""Data, meta and results are JSON, never pickle, so writing to Redis never means running code."""

TASK_TYPE_META = "task_type"
MAX_ATTEMPTS_META = "max_attempts"
"""The task's retry budget when it was enqueued (RQ only keeps the retries left)."""
ATTEMPTS_META = "attempts"
"""Attempts started so far, kept on the job for status readers."""
REQUEST_ID_META = "request_id"
"""The API request that enqueued the job, so the job's log lines carry it too."""
TRACE_META = "trace"
"""The enqueueing span's W3C trace context, continued by the worker."""
PERIODIC_META = "periodic"
"""The ``FRAIDAY_PERIODIC_TASKS`` entry that enqueued the job."""
CELERY_TASK_META = "celery_task"
"""The Celery task name of a job the Celery bridge enqueued."""
ASYNQ_ID_META = "asynq_id"
"""The id of the Asynq task a job the Asynq bridge enqueued came from (the job's id may be a hash of it)."""
ASYNQ_TYPE_META = "asynq_type"
ASYNQ_RETRIED_META = "asynq_retried"
"""How many times Asynq had retried the task before the bridge took it."""


def attempt_number(max_attempts: int, retries_left: int | None) -> int:
    """The attempt a job is starting, from the retry budget it was enqueued with and the retries RQ has
    left (RQ keeps no attempt count of its own)."""
    return max(1, max_attempts - (retries_left or 0))


# RQ's own key layout, read from RQ rather than spelled out, so a change in RQ cannot drift from ours.
JOB_KEY_PREFIX = Job.redis_job_namespace_prefix
QUEUE_KEY_PREFIX = Queue.redis_queue_namespace_prefix
WORKER_KEY_PREFIX = Worker.redis_worker_namespace_prefix


def worker_key(name: str) -> str:
    return f"{WORKER_KEY_PREFIX}{name}"


CALLBACK_FIELDS = ("success_callback_name", "failure_callback_name", "stopped_callback_name")
"""Job hash fields naming a function RQ imports and calls after the job; fraiday jobs have none."""

PoisonKind = Literal["function", "data", "meta", "origin", "unreadable"]
"""Why a job was refused, as a metric label: a fixed, small set (the details go in the failure reason)."""


META_NOT_JSON = "its meta is not a JSON object (a pickle, or corrupt)"


@dataclass(frozen=True)
class Poison:
    kind: PoisonKind
    detail: str

    def __str__(self) -> str:
        return f"not a fraiday job: {self.detail}"

    @classmethod
    def unreadable(cls, error: BaseException) -> "Poison":
        """A job whose stored fields RQ could not read (or write back), refused with RQ's error."""
        return cls("unreadable", f"{type(error).__name__}: {error}")


def _json(raw: bytes) -> tuple[bool, object]:
    try:
        return True, json.loads(raw)
    except (ValueError, RecursionError):  # invalid JSON or UTF-8 (a pickle), or nested beyond reason
        return False, None


def poison_reason(
    data: bytes | None,
    meta: bytes | None,
    origin: bytes | None,
    queue: str,
    callbacks: Sequence[str | bytes | None] = (),
) -> Poison | None:
    """Why a job stored with these fields and popped from ``queue`` is not a fraiday job (None if it is)."""
    if (poison := _data_poison(data)) is not None:
        return poison
    if any(callbacks):
        return Poison("function", "it names a callback for RQ to call")
    if meta:
        parsed, value = _json(meta)
        if not parsed or not isinstance(value, dict):
            return Poison("meta", META_NOT_JSON)
    if origin is None or origin.decode(errors="replace") != queue:
        return Poison("origin", f"its origin is not the queue {queue!r} it was taken from")
    return None


MAX_DATA_BYTES = 4 * 1024 * 1024
"""A job's data (function and arguments as JSON), decompressed. A payload is a few fields of at most
256 KiB each (``handlers.storable``); a planted 1.5 MB zlib stream of 1.5 GB took 3 GB of memory in
``fraiday jobs`` and in the API server showing it, had anything decompressed it whole."""

ZLIB_MAX_RATIO = 1032
"""zlib's largest possible expansion: stored data up to ``MAX_DATA_BYTES`` / this cannot exceed it."""


class DataTooLarge(ValueError):
    """A job's data decompresses to more than ``MAX_DATA_BYTES``."""


def inflated(data: bytes) -> bytes:
    """A job's data as RQ reads it (zlib-decompressed, or as stored when it is not zlib), decompressing
    no further than ``MAX_DATA_BYTES``; :class:`DataTooLarge` beyond."""
    if len(data) > MAX_DATA_BYTES:
        raise DataTooLarge(f"its data is over {MAX_DATA_BYTES // 2**20} MiB")
    try:
        inflater = zlib.decompressobj()
        out = inflater.decompress(data, MAX_DATA_BYTES + 1)
    except zlib.error:
        return data
    if len(out) > MAX_DATA_BYTES:
        raise DataTooLarge(f"its data decompresses to over {MAX_DATA_BYTES // 2**20} MiB")
    return out if inflater.eof else data  # a truncated stream: RQ falls back to the stored bytes too


def check_data_size(data: bytes | None) -> None:
    """:class:`DataTooLarge` for stored data that would decompress beyond ``MAX_DATA_BYTES``, before RQ
    decompresses it whole; cheap for data too short to get there."""
    if data is not None and len(data) * ZLIB_MAX_RATIO > MAX_DATA_BYTES:
        inflated(data)


def _data_poison(data: bytes | None) -> Poison | None:
    if data is None:
        return Poison("data", "it has no data")
    try:  # RQ compresses data but reads it uncompressed too, so both are judged
        parsed, call = _json(inflated(data))
    except DataTooLarge as exc:
        return Poison("data", str(exc))
    if not parsed:
        return Poison("data", "its data is not JSON (a pickle, or corrupt)")
    if not (isinstance(call, list) and len(call) == 4):
        return Poison("data", "its data is not [function, instance, args, kwargs]")
    return _call_poison(*call)


def _call_poison(function: object, instance: object, args: object, kwargs: object) -> Poison | None:
    if function != JOB_FUNCTION:
        return Poison("function", f"it names {str(function)[:100]!r}, not {JOB_FUNCTION}")
    task_arguments = (
        isinstance(args, list) and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], dict)
    )
    if instance is not None or kwargs != {} or not task_arguments:
        return Poison("data", "its arguments are not [task_type, payload]")
    return None


def loaded_poison_reason(job: Job, queue: str) -> Poison | None:
    """:func:`poison_reason` for a job RQ has already loaded: the very data, meta and origin it will run.

    A second read of the hash would judge what Redis holds a moment later, and whoever can write to Redis
    can swap a planted job's data for a good one in between, so the worker judges its own copy. RQ keeps a
    meta it could not parse as ``{"unserialized": <the raw bytes>}``, which is no JSON.
    """
    try:
        meta = json.dumps(job.meta).encode()
    except (TypeError, ValueError):
        return _data_poison(job.data) or Poison("meta", META_NOT_JSON)  # data is judged first, as below
    callbacks = (job._success_callback_name, job._failure_callback_name, job._stopped_callback_name)
    return poison_reason(job.data, meta, job.origin.encode(), queue, callbacks)


def is_wrong_type(error: redis.ResponseError) -> bool:
    """Redis's answer to a hash command on a job key someone wrote as another type (``SET rq:job:x``):
    a job that can never be read, not a Redis outage."""
    return "WRONGTYPE" in str(error)  # a pipeline prefixes the command's position


def read_poison_reason(connection: redis.Redis, job_id: str, queue: str) -> Poison | None:
    """:func:`poison_reason` for a job in Redis; a job whose hash is gone is not poison, just gone."""
    try:
        fields = cast(
            list[Any], connection.hmget(Job.key_for(job_id), ["data", "meta", "origin", *CALLBACK_FIELDS])
        )
    except redis.ResponseError as error:
        if not is_wrong_type(error):
            raise
        return Poison("unreadable", "its key is not a hash")
    data, meta, origin, *callbacks = (value.encode() if isinstance(value, str) else value for value in fields)
    if data is None and meta is None and origin is None:
        return None
    return poison_reason(data, meta, origin, queue, callbacks)
