"""A job's lease: heartbeats from a side thread while the job runs in the slot's main thread.

RQ only refreshes the started-registry score from a forking worker's monitor loop, so a slot that runs
jobs in-process would otherwise hold a lease as long as the job's timeout. With a short lease kept alive
here, a SIGKILLed slot's job expires within ``ttl`` seconds and the next registry cleanup requeues it.

One thread per slot serves every job it runs (a thread started and joined per job cost more CPU than a
no-op job's own work); :meth:`LeaseKeeper.hold` returns only once no renewal of its job is in flight.

A lease runs ``ttl`` seconds from its renewal to the fraction: RQ's own registry scores are whole seconds
rounded down, which made a 3 s lease last anywhere from 2 to 3 s.
"""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from rq.job import Job

from fraiday_cli.worker.guarded_writes import RUN_WRITES

log = logging.getLogger("fraiday.worker")

WRITE_IF_HELD = (
    RUN_WRITES
    + """
-- KEYS: the started registry; ARGV: the execution's entry in it, then the outcome's writes
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {1, run_writes(2)}
end
return {0}
"""
)


class LeaseKeeper:
    def __init__(self, worker: Any, ttl: int) -> None:
        self.worker = worker
        self.ttl = ttl
        self.interval = max(1.0, ttl / 3)
        self._changed = threading.Condition()
        self._renewing = threading.Lock()
        self._held: tuple[Job, Any] | None = None
        self._thread: threading.Thread | None = None
        self._write_if_held = worker.connection.register_script(WRITE_IF_HELD)

    @contextmanager
    def hold(self, job: Job) -> Iterator[None]:
        """Renew ``job``'s lease every ``interval`` seconds while the block runs."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lease", daemon=True)
            self._thread.start()
        with self._changed:
            self._held = (job, self.worker.execution)
            self._changed.notify()
        try:
            yield
        finally:
            with self._renewing, self._changed:
                self._held = None
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._held is None:
                    self._changed.wait()
                held = self._held
                # Woken early only when the job changes: then the new job's interval starts afresh.
                self._changed.wait(self.interval)
                if self._held is not held:
                    continue
            with self._renewing:
                if self._held is not held:
                    continue
                try:
                    self.renew(*held)
                except redis.RedisError as error:
                    log.warning("could not renew the lease of job %s: %s", held[0].id, error)

    def renew(self, job: Job, execution: Any) -> None:
        # Every write is xx-guarded or on the worker's own key, so a renewal racing the job's end never
        # resurrects a finished execution in the started registry.
        with self.worker.connection.pipeline() as pipeline:
            self.worker.heartbeat(self.ttl + 60, pipeline=pipeline)
            if execution is not None:
                execution.heartbeat(job.started_job_registry, self.ttl, pipeline=pipeline)
                self._extend(pipeline, job, execution)
            pipeline.execute()

    def keep(self, job: Job, execution: Any) -> bool:
        """Whether ``execution`` still holds ``job``, extending its lease by a whole ``ttl`` in the same
        transaction if so: the sweep takes a job only by removing its entry, so the job cannot be handed
        to another attempt while the holder writes its outcome (short of a stall longer than ``ttl``)."""
        with self.worker.connection.pipeline() as pipeline:
            self._extend(pipeline, job, execution)
            pipeline.zscore(job.started_job_registry.key, execution.composite_key)
            *_, score = pipeline.execute()
        return score is not None

    def write_if_held(self, job: Job, execution: Any, writes: list[Any]) -> list[Any] | None:
        """Send ``writes`` (:func:`~fraiday_cli.worker.guarded_writes.packed_writes`) and return their
        replies if ``execution`` still holds ``job``; None, and nothing written, if it does not. The check
        of :meth:`keep` and an outcome that ends the lease, in one step."""
        registry = job.started_job_registry.key
        held, *replies = self._write_if_held(keys=[registry], args=[execution.composite_key, *writes])
        return replies[0] if held == 1 else None

    def _extend(self, pipeline: Any, job: Job, execution: Any) -> None:
        pipeline.zadd(
            job.started_job_registry.key, {execution.composite_key: time.time() + self.ttl}, xx=True
        )
