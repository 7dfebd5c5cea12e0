"""What a fraiday job looks like in Redis: the function RQ calls, the serializer, the meta keys, the keys.

Every producer (the task client, the Celery bridge, the periodic scheduler) and every reader (workers,
``fraiday jobs``, the API's task status, the dashboard) asks this module, so the format is defined once.
It lives below the server and the worker because both use it, and it imports nothing of ours.
"""

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

# RQ's own key layout, read from RQ rather than spelled out, so a change in RQ cannot drift from ours.
JOB_KEY_PREFIX = Job.redis_job_namespace_prefix
QUEUE_KEY_PREFIX = Queue.redis_queue_namespace_prefix
WORKER_KEY_PREFIX = Worker.redis_worker_namespace_prefix


def worker_key(name: str) -> str:
    return f"{WORKER_KEY_PREFIX}{name}"
