"""A slot with job threads (``fraiday worker --threads T``): T jobs at once in one forked process.

A job that waits seconds on the AI service holds a whole slot process (about 18 MiB) while it waits; T
threads in one slot wait side by side for the cost of a thread each. The slot's main thread keeps every
job of a one-thread slot's policy that is not the job itself: it dequeues (weighting, pausing, poison
refusal), answers signals and heartbeats; it pops a job only when a job thread is free, so a slot never
holds a job it cannot start. Each job thread is an RQ worker of its own (``<slot>-t<i>``), so every job
has its own execution, lease and outcome bookkeeping, exactly as in a one-thread slot.

What changes with threads: a timeout or the shutdown interrupt reaches the job through
:mod:`fraiday_cli.worker.thread_timeouts` instead of a signal; a stop waits for every thread's job (the
pool's grace period and interrupt apply to all of them); the job threads are not registered as workers of
their queues, so ``fraiday queues`` counts slots, each running up to T jobs.
"""

import logging
import threading
from collections.abc import Sequence
from contextlib import suppress
from queue import Empty, SimpleQueue
from types import FrameType
from typing import Any

import redis
from rq.job import Job
from rq.queue import Queue

from fraiday_cli.worker.blocked_waits import end_network_waits, redis_peers
from fraiday_cli.worker.slot import HEARTBEAT_EVERY_SECONDS, SlotPolicy, SlotWorker
from fraiday_cli.worker.slot_signals import ShutdownInterrupt
from fraiday_cli.worker.thread_timeouts import ThreadDeathPenalty

log = logging.getLogger("fraiday.worker")

JOIN_POLL_SECONDS = 0.2
"""How often the main thread, waiting for the job threads at a stop, lets its signal handlers run."""


class JobThreadWorker(SlotWorker):
    """One job thread's RQ identity. It never dequeues: the slot's main thread hands it each job."""

    death_penalty_class = ThreadDeathPenalty


class JobThread:
    def __init__(self, worker: JobThreadWorker, free: "SimpleQueue[JobThread]") -> None:
        self.worker = worker
        self._free = free
        self._inbox: SimpleQueue[tuple[Job, Queue] | None] = SimpleQueue()
        # A daemon: a cold stop (SystemExit in the main thread) must not wait for a job; its lease lapses.
        self.thread = threading.Thread(target=self._run, name=worker.name, daemon=True)

    def run(self, job: Job, queue: Queue) -> None:
        self._inbox.put((job, queue))

    def finish(self) -> None:
        """Exit once the current job, if any, is done."""
        self._inbox.put(None)

    def _run(self) -> None:
        self._free.put(self)
        while (work := self._inbox.get()) is not None:
            job, queue = work
            try:
                self.worker.execute_job(job, queue)
            except redis.RedisError as error:
                log.error("job thread %s lost Redis while running %s: %s", self.worker.name, job.id, error)
            except BaseException:
                # A job's own errors never get here (RQ records them); this is its bookkeeping failing.
                # The thread carries on; the job's lease lapses and recovery puts it back.
                log.exception("job thread %s failed around job %s", self.worker.name, job.id)
            self._free.put(self)


class ThreadedSlotWorker(SlotWorker):
    """A slot's main thread when it has job threads: it dequeues, signals and heartbeats; they run jobs."""

    def __init__(
        self,
        queues: Sequence[str] | Sequence[Queue],
        *args: Any,
        policy: SlotPolicy,
        threads: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(queues, *args, policy=policy, **kwargs)
        self._free: SimpleQueue[JobThread] = SimpleQueue()
        self._next: JobThread | None = None
        self._redis_peers = redis_peers(self.connection.connection_pool.connection_kwargs)
        self.job_threads = [
            JobThread(
                JobThreadWorker(
                    self.queues,
                    name=f"{self.name}-t{index}",
                    connection=self.connection,
                    serializer=self.serializer,
                    policy=policy,
                    worker_ttl=self.worker_ttl,
                    prepare_for_work=False,  # not registered: no name or address to announce
                ),
                self._free,
            )
            for index in range(threads)
        ]
        # Started here, while the slot still holds its stop signals: the threads inherit that mask, so
        # SIGINT and SIGTERM only ever reach the main thread.
        for job_thread in self.job_threads:
            job_thread.thread.start()

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """Wait for a free job thread, then dequeue as a one-thread slot does."""
        while self._next is None:
            try:
                self._next = self._free.get(timeout=HEARTBEAT_EVERY_SECONDS)
            except Empty:
                # Every thread busy: the slot itself is alive. Redis gone: the dequeue that follows, once a
                # thread is free, reports it and waits for it as a one-thread slot does.
                with suppress(redis.RedisError):
                    self.heartbeat()
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def execute_job(self, job: Job, queue: Queue) -> None:
        job_thread, self._next = self._next, None
        assert job_thread is not None, "a job is dequeued only once a job thread is free"
        job_thread.run(job, queue)

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        """The grace period is over: every running job is stopped and put back on its queue."""
        super()._interrupt(signum, frame)
        if ThreadDeathPenalty.strike_all(ShutdownInterrupt):
            end_network_waits(self._redis_peers)

    def teardown(self) -> None:
        """Let every job thread finish its job before the slot deregisters and exits."""
        for job_thread in self.job_threads:
            job_thread.finish()
        for job_thread in self.job_threads:
            while job_thread.thread.is_alive():
                job_thread.thread.join(JOIN_POLL_SECONDS)
        try:
            super().teardown()
        except redis.RedisError as error:
            # A slot leaving in an outage (the pool starts another, which waits for Redis): RQ's
            # registration expires by itself, a traceback would say nothing more.
            log.warning("slot %s stopped without Redis to deregister from: %s", self.name, error)
