"""The no-op job of the overhead benchmark for fraiday, doing one INCR on Redis (Celery's is in
``bench.celery_jobs``, plain RQ's in ``bench.rq_job``: each system's worker imports only its own)."""

import functools
import os
import time

import redis

from handlers.payloads import Payload
from handlers.registry import Registry, TaskContext, TaskSpec
from handlers.retry import RetryPolicy
from handlers.services import Services

COUNTER = "bench:done"
QUEUE = "bench"
# The I/O-bound job: waits this long (as on an AI service), then counts itself.
SLEEP_SECONDS = 0.2


@functools.cache
def _client(pid: int) -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"])


def _redis() -> redis.Redis:
    """One client per process, like a real handler's: a new connection per job would cost more than
    the frameworks measured here (redis-py 8 even reads package metadata for each connection)."""
    return _client(os.getpid())


class NoopPayload(Payload):
    n: int


def fraiday_noop(payload: NoopPayload, services: Services, task: TaskContext) -> None:
    _redis().incr(COUNTER)


def fraiday_sleep(payload: NoopPayload, services: Services, task: TaskContext) -> None:
    time.sleep(SLEEP_SECONDS)
    _redis().incr(COUNTER)


REGISTRY = Registry(
    [
        TaskSpec(
            name="bench:noop",
            queue=QUEUE,
            payload_model=NoopPayload,
            handler=fraiday_noop,
            retry=RetryPolicy(max_attempts=1, backoff_seconds=1.0),
            timeout_seconds=30,
        ),
        TaskSpec(
            name="bench:sleep",
            queue=QUEUE,
            payload_model=NoopPayload,
            handler=fraiday_sleep,
            retry=RetryPolicy(max_attempts=1, backoff_seconds=1.0),
            timeout_seconds=30,
        ),
    ]
)
