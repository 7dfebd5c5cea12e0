"""Scenario 1: per-job overhead. N no-op jobs (one INCR each) through fraiday, RQ's worker-pool and Celery.

Every system gets the same jobs, already queued, on the same Redis; the rate is measured from the first
job done to the last, so start-up is left out (it has its own scenario).
"""

import time
from collections.abc import Callable
from typing import Any

from rq import Queue

from bench.common import VENV_BIN, Stack, fraiday, spawn, stop, wait_until
from bench.jobs import COUNTER, QUEUE, REGISTRY, celery_app, celery_noop
from fraiday_cli.tasks.client import TaskClient


def _rate(
    stack: Stack, name: str, argv: list[str], enqueue: Callable[[int], None], jobs: int
) -> dict[str, Any]:
    conn = stack.redis()
    conn.flushdb()
    enqueue(jobs)
    process = spawn(argv, stack.env(), stack.logs / f"overhead-{name}.log")
    try:
        first = wait_until(lambda: int(conn.get(COUNTER) or 0) > 0, 60)
        last = wait_until(lambda: int(conn.get(COUNTER) or 0) >= jobs, 600)
    finally:
        stop(process)
    return {
        "system": name,
        "jobs": jobs,
        "seconds": round(last - first, 3),
        "jobs_per_second": round((jobs - 1) / (last - first), 1),
    }


def run(stack: Stack, jobs: int = 10_000, concurrency: int = 2) -> list[dict[str, Any]]:
    conn = stack.redis()

    def enqueue_fraiday(n: int) -> None:
        client = TaskClient(conn, REGISTRY)
        for i in range(n):
            client.enqueue("bench:noop", {"n": i})

    def enqueue_rq(n: int) -> None:
        queue = Queue(QUEUE, connection=conn)
        batch = [Queue.prepare_data("bench.rq_job.rq_noop", args=(i,)) for i in range(n)]
        queue.enqueue_many(batch)

    def enqueue_celery(n: int) -> None:
        celery_app.conf.broker_url = stack.redis_url
        with celery_app.producer_or_acquire() as producer:
            for i in range(n):
                celery_noop.apply_async((i,), queue=QUEUE, producer=producer)

    celery = [str(VENV_BIN / "celery"), "-A", "bench.jobs:celery_app", "worker", "-c", str(concurrency)]
    celery += ["-P", "prefork", "-Q", QUEUE, "--without-gossip", "--without-mingle", "--without-heartbeat"]
    fraiday_argv = fraiday("worker", "-q", QUEUE, "-c", str(concurrency), "--registry", "bench.jobs:REGISTRY")
    rq_argv = [str(VENV_BIN / "rq"), "worker-pool", "-n", str(concurrency), "-u", stack.redis_url, QUEUE]
    systems = [
        ("fraiday", fraiday_argv, enqueue_fraiday),
        ("rq worker-pool", rq_argv, enqueue_rq),
        ("celery prefork", [*celery, "-l", "WARNING"], enqueue_celery),
    ]
    results = []
    for name, argv, enqueue in systems:
        results.append(_rate(stack, name, argv, enqueue, jobs))
        time.sleep(0.5)
    fraiday_rate = results[0]["jobs_per_second"]
    for result in results:
        result["fraiday_ratio"] = round(fraiday_rate / result["jobs_per_second"], 2)
    return results
