"""Celery's no-op and 200 ms jobs for the overhead benchmark, the same INCR as fraiday's (``bench.jobs``),
in a module of their own so that fraiday's worker, loading ``bench.jobs:REGISTRY``, does not import Celery."""

import os
import time

from celery import Celery

from bench.jobs import COUNTER, SLEEP_SECONDS, _redis

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
