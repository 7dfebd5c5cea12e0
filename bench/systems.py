"""The systems the benchmark compares, each as: how to queue N no-op jobs, and how to start its worker.

Every system runs the same no-op (one INCR on ``bench:done``) from the same Redis, so what differs is
the machinery around the job: fraiday's slots, RQ's fork-per-job worker-pool, Celery's prefork pool, and
the Go service's Asynq (a small Go program in ``bench/asynq_peer``, built here from the module proxy).
"""

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rq import Queue

from bench.celery_jobs import celery_app, celery_noop, celery_sleep
from bench.common import ROOT, VENV_BIN, Stack, fraiday
from bench.jobs import QUEUE, REGISTRY
from fraiday_cli.tasks.client import TaskClient

ASYNQ_PEER_SOURCE = ROOT / "bench" / "asynq_peer"
ASYNQ_PEER_BINARY = Path.home() / ".cache" / "fraiday" / "bench" / "asynq-peer"


# A job kind: "noop" (one INCR) or "sleep" (200 ms, then the INCR).
Kind = str


@dataclass(frozen=True)
class System:
    name: str
    enqueue: Callable[[int, Kind], None]
    worker: Callable[[int], list[str]]


def build_asynq_peer() -> Path:
    """``go build`` is incremental, so every run builds: the binary always matches the source."""
    ASYNQ_PEER_BINARY.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["go", "build", "-o", str(ASYNQ_PEER_BINARY), "."], cwd=ASYNQ_PEER_SOURCE, check=True, timeout=600
    )
    return ASYNQ_PEER_BINARY


def systems(stack: Stack) -> list[System]:
    conn = stack.redis()
    redis_location = urlsplit(stack.redis_url)
    asynq = [
        "-redis", f"{redis_location.hostname}:{redis_location.port}",
        "-db", redis_location.path.strip("/") or "0", "-queue", QUEUE,
    ]  # fmt: skip
    peer = str(build_asynq_peer())

    def enqueue_fraiday(n: int, kind: Kind) -> None:
        client = TaskClient(conn, REGISTRY)
        for i in range(n):
            client.enqueue(f"bench:{kind}", {"n": i})

    def enqueue_rq(n: int, kind: Kind) -> None:
        queue = Queue(QUEUE, connection=conn)
        queue.enqueue_many([Queue.prepare_data(f"bench.rq_job.rq_{kind}", args=(i,)) for i in range(n)])

    def enqueue_celery(n: int, kind: Kind) -> None:
        celery_app.conf.broker_url = stack.redis_url
        task = celery_noop if kind == "noop" else celery_sleep
        with celery_app.producer_or_acquire() as producer:
            for i in range(n):
                task.apply_async((i,), queue=QUEUE, producer=producer)

    def enqueue_asynq(n: int, kind: Kind) -> None:
        subprocess.run([peer, "enqueue", *asynq, "-jobs", str(n), "-kind", kind], check=True, timeout=600)

    def celery_worker(concurrency: int) -> list[str]:
        return [
            str(VENV_BIN / "celery"), "-A", "bench.celery_jobs:celery_app", "worker", "-c", str(concurrency),
            "-P", "prefork", "-Q", QUEUE, "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-l", "WARNING",
        ]  # fmt: skip

    return [
        System(
            "fraiday",
            enqueue_fraiday,
            lambda c: fraiday("worker", "-q", QUEUE, "-c", str(c), "--registry", "bench.jobs:REGISTRY"),
        ),
        System(
            "rq worker-pool",
            enqueue_rq,
            lambda c: [str(VENV_BIN / "rq"), "worker-pool", "-n", str(c), "-u", stack.redis_url, QUEUE],
        ),
        System("celery prefork", enqueue_celery, celery_worker),
        System("go asynq", enqueue_asynq, lambda c: [peer, "work", *asynq, "-concurrency", str(c)]),
    ]
