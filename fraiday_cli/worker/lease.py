"""A job's lease: heartbeats from a side thread while the job runs in the slot's main thread.

RQ only refreshes the started-registry score from a forking worker's monitor loop, so a slot that runs
jobs in-process would otherwise hold a lease as long as the job's timeout. With a short lease kept alive
here, a SIGKILLed slot's job expires within ``ttl`` seconds and the next registry cleanup requeues it.
"""

import logging
import threading
from types import TracebackType
from typing import Any

import redis
from rq.job import Job

log = logging.getLogger("fraiday.worker")


class JobLease:
    def __init__(self, worker: Any, job: Job, ttl: int) -> None:
        self.worker = worker
        self.job = job
        self.execution = worker.execution
        self.ttl = ttl
        self.interval = max(1.0, ttl / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job.id}", daemon=True)

    def __enter__(self) -> "JobLease":
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.renew()
            except redis.RedisError as error:
                log.warning("could not renew the lease of job %s: %s", self.job.id, error)

    def renew(self) -> None:
        # Every write is xx-guarded or on the worker's own key, so a renewal racing the job's end never
        # resurrects a finished execution in the started registry.
        with self.worker.connection.pipeline() as pipeline:
            self.worker.heartbeat(self.ttl + 60, pipeline=pipeline)
            if self.execution is not None:
                self.execution.heartbeat(self.job.started_job_registry, self.ttl, pipeline=pipeline)
            pipeline.execute()
