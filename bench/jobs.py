"""The no-op job of the overhead benchmark for fraiday and Celery, each doing the same one INCR on Redis
(plain RQ's is in ``bench.rq_job``)."""

import functools
import os
import time

import redis
from celery import Celery

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


celery_app = Celery("bench", broker=os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
celery_app.conf.update(
    task_serializer="json", accept_content=["json"], task_ignore_result=True, worker_hijack_root_logger=False
)


@celery_app.task(name="bench.noop")
def celery_noop(n: int) -> None:
    _redis().incr(COUNTER)


@celery_app.task(name="bench.sleep")
def celery_sleep(n: int) -> None:
    time.sleep(SLEEP_SECONDS)
    _redis().incr(COUNTER)
