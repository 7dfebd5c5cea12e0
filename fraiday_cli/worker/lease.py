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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import redis
from rq.job import Job

from fraiday_cli.worker.guarded_writes import RUN_WRITES
from fraiday_cli.worker.next_job import POP_NEXT

log = logging.getLogger("fraiday.worker")

WRITE_IF_HELD = (
    RUN_WRITES
    + POP_NEXT
    + """
-- KEYS: the started registry
-- ARGV: the execution's entry in it, where the outcome's writes end, the writes, then POP_NEXT's arguments
-- if the next job is to be popped in the same step
local last = tonumber(ARGV[2])
local held, replies, next_job = 0, {}, {}
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  held, replies = 1, run_writes(3, last)
end
if last < #ARGV then
  next_job = pop_next(last + 1)
end
return {held, replies, next_job}
"""
)


class HeldWrites(NamedTuple):
    replies: list[Any] | None
    """The writes' replies; None, and nothing written, if the lease was no longer held."""
    next_job: list[Any]
    """``POP_NEXT``'s reply (:mod:`fraiday_cli.worker.next_job`); empty if no pop was asked for."""


class LeaseKeeper:
    def __init__(self, worker: Any, ttl: int) -> None:
        self.worker = worker
        self.ttl = ttl
        self.interval = max(1.0, ttl / 3)
        self._changed = threading.Condition()
        self._renewing = threading.Lock()
        self._held: tuple[Job, Any] | None = None
        self._renew_at = 0.0
        self._idle = False
        self._thread: threading.Thread | None = None
        self._write_if_held = worker.connection.register_script(WRITE_IF_HELD)

    @contextmanager
    def hold(self, job: Job) -> Iterator[None]:
        """Renew ``job``'s lease every ``interval`` seconds while the block runs, the first ``interval``
        after it starts.

        The thread is woken only when it waits with nothing held. A busy slot hands it one job after
        another without waking it (a wake-up at each job's start and end cost more CPU than a no-op job's
        own work): it meets the new job when its current wait ends, which is never later than the new
        job's first renewal is due, and then waits for that."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lease", daemon=True)
            self._thread.start()
        with self._changed:
            self._held = (job, self.worker.execution)
            self._renew_at = time.monotonic() + self.interval
            if self._idle:
                self._changed.notify()
        try:
            yield
        finally:
            with self._renewing:
                self._held = None

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._held is None:
                    self._idle = True
                    self._changed.wait()
                self._idle = False
                held, wait = self._held, self._renew_at - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue  # the job held, or its renewal's time, may have changed meanwhile
            with self._renewing:
                if self._held is not held:
                    continue
                try:
                    self.renew(*held)
                except redis.RedisError as error:
                    log.warning("could not renew the lease of job %s: %s", held[0].id, error)
                self._renew_at = time.monotonic() + self.interval

    def renew(self, job: Job, execution: Any) -> None:
        # Every write is xx-guarded or on the worker's own key, so a renewal racing the job's end never
        # resurrects a finished execution in the started registry.
        with self.worker.connection.pipeline() as pipeline:
            self.worker.heartbeat(self.ttl + 60, pipeline=pipeline)
            if execution is not None:
                execution.heartbeat(job.started_job_registry, self.ttl, pipeline=pipeline)
                self.extend(pipeline, job, execution)
            pipeline.execute()

    def keep(self, job: Job, execution: Any) -> bool:
        """Whether ``execution`` still holds ``job``, extending its lease by a whole ``ttl`` in the same
        transaction if so: the sweep takes a job only by removing its entry, so the job cannot be handed
        to another attempt while the holder writes its outcome (short of a stall longer than ``ttl``)."""
        with self.worker.connection.pipeline() as pipeline:
            self.extend(pipeline, job, execution)
            pipeline.zscore(job.started_job_registry.key, execution.composite_key)
            *_, score = pipeline.execute()
        return score is not None

    def write_if_held(
        self, job: Job, execution: Any, writes: list[Any], pop: Sequence[str] = ()
    ) -> HeldWrites:
        """Send ``writes`` (:func:`~fraiday_cli.worker.guarded_writes.packed_writes`) if ``execution``
        still holds ``job``, and nothing if it does not: the check of :meth:`keep` and an outcome that ends
        the lease, in one step. With ``pop`` (:func:`~fraiday_cli.worker.next_job.pop_args`), the next job
        is popped in the same step, whether the lease was held or not."""
        registry = job.started_job_registry.key
        last = 2 + len(writes)
        held, replies, next_job = self._write_if_held(
            keys=[registry], args=[execution.composite_key, last, *writes, *pop]
        )
        return HeldWrites(replies if held == 1 else None, next_job)

    def extend(self, pipeline: Any, job: Job, execution: Any) -> None:
        """The lease runs ``ttl`` from now, to the fraction; also sent at a job's start, after RQ's own
        whole-second score there, which made the first stretch of a lease 2 to 3 s of a 3 s ``ttl``."""
        pipeline.zadd(
            job.started_job_registry.key, {execution.composite_key: time.time() + self.ttl}, xx=True
        )
