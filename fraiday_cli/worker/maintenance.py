"""The pool's maintenance: recovery, due jobs and registry housekeeping, in the pool process, not a slot.

In RQ each worker does maintenance between jobs, so a pool whose slots all run long jobs recovers
nothing, and its scheduler is a separate process nobody restarts promptly. Here one thread of the pool
process (which never runs jobs) does it every second, whatever the slots are doing, and the pool
restarts it at once if it dies, releasing the scheduler locks it held. A Redis outage only pauses it:
it logs once when Redis goes and once when it is back, and resumes on the next tick.

Every interval derives from ``FRAIDAY_RECOVERY_SECONDS`` (see :class:`RecoveryTimes`), so that a job
whose process died runs again within that bound.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

import redis
from rq.registry import DeferredJobRegistry, FailedJobRegistry, FinishedJobRegistry
from rq.worker_registration import clean_worker_registry

from fraiday_cli.tasks.task_queue import queue_for
from fraiday_cli.worker.due_jobs import DueJobs
from fraiday_cli.worker.recovery import OrphanSweep, requeue_expired
from handlers.wire_format import SERIALIZER

log = logging.getLogger("fraiday.worker")

TICK_SECONDS = 1.0


@dataclass(frozen=True)
class RecoveryTimes:
    """How the recovery bound R is spent.

    A dead slot's lease lapses within ``lease`` (R/2) and a sweep every ``sweep`` (R/10) requeues its job:
    back on its queue within 0.6 R. A job lost in the dequeue window is requeued by the second orphan
    scan after it (scans ``orphan_scan`` = R/4 apart): within R/2. A dead pool's scheduler locks lapse
    within ``scheduler_lock`` (R/4).
    """

    lease: int
    sweep: int
    orphan_scan: int
    scheduler_lock: int

    @classmethod
    def within(cls, recovery_seconds: int) -> "RecoveryTimes":
        return cls(
            lease=max(2, recovery_seconds // 2),
            sweep=max(1, recovery_seconds // 10),
            orphan_scan=max(2, recovery_seconds // 4),
            scheduler_lock=max(2, recovery_seconds // 4),
        )


class Maintenance:
    def __init__(self, connect: Callable[[], redis.Redis], queues: list[str], times: RecoveryTimes) -> None:
        self.connection = connect()
        self.queues = queues
        self.times = times
        self.name = f"fraiday-maintenance-{uuid.uuid4().hex[:12]}"
        self.due_jobs = DueJobs(self.connection, queues, self.name, times.scheduler_lock)
        self.orphans = OrphanSweep(self.connection, times.orphan_scan)
        self._next_sweep = 0.0
        self._next_orphan_scan = 0.0
        self._orphan_scan: threading.Thread | None = None
        self._redis_down = False

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    self.step()
                    self._redis_is_back()
                except redis.RedisError as error:
                    self._redis_is_down(error)
                stop.wait(TICK_SECONDS)
        finally:
            self.release()

    def step(self) -> None:
        self.due_jobs.step()
        now = time.monotonic()
        if now >= self._next_sweep:
            for name in self.queues:
                requeue_expired(self.connection, name)
            self._housekeeping()
            self._next_sweep = now + self.times.sweep
        if now >= self._next_orphan_scan and not (self._orphan_scan and self._orphan_scan.is_alive()):
            # Its own thread: a scan reads every job hash and must not hold up due jobs or leases.
            self._orphan_scan = threading.Thread(target=self._scan_orphans, name=f"{self.name}-orphans")
            self._orphan_scan.daemon = True
            self._orphan_scan.start()
            self._next_orphan_scan = now + self.times.orphan_scan

    def _scan_orphans(self) -> None:
        try:
            self.orphans.run()
        except redis.RedisError as error:
            log.warning("orphan scan interrupted, next one in %d s: %s", self.times.orphan_scan, error)

    def release(self) -> None:
        """Give up the scheduler locks so another pool takes over at once, not after their TTL."""
        with suppress(redis.RedisError):
            self.due_jobs.release()

    def _housekeeping(self) -> None:
        """What RQ's worker maintenance did besides recovery: expire old registry entries and workers."""
        for name in self.queues:
            for registry in (FinishedJobRegistry, FailedJobRegistry, DeferredJobRegistry):
                registry(name, connection=self.connection, serializer=SERIALIZER).cleanup()
            clean_worker_registry(queue_for(name, self.connection))

    def _redis_is_down(self, error: redis.RedisError) -> None:
        if not self._redis_down:
            log.warning("maintenance cannot reach Redis, retrying every %.0f s: %s", TICK_SECONDS, error)
        self._redis_down = True

    def _redis_is_back(self) -> None:
        if self._redis_down:
            log.info("maintenance reaches Redis again")
        self._redis_down = False


class MaintenanceThread:
    """Runs :class:`Maintenance` in a thread; :meth:`supervise` restarts it at once if it has died."""

    def __init__(self, make: Callable[[], Maintenance]) -> None:
        self.make = make
        self._stop = threading.Event()
        self._current: tuple[Maintenance, threading.Thread] | None = None

    def supervise(self) -> None:
        """Start it, or restart it if it died; the pool calls this every second."""
        if self._stop.is_set():
            return
        if self._current is not None:
            maintenance, thread = self._current
            if thread.is_alive():
                return
            log.error("maintenance stopped unexpectedly; releasing its locks and restarting it")
            maintenance.release()
        maintenance = self.make()
        thread = threading.Thread(target=self._run, args=(maintenance,), name=maintenance.name, daemon=True)
        self._current = (maintenance, thread)
        thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._current is not None:
            self._current[1].join(timeout)

    def _run(self, maintenance: Maintenance) -> None:
        try:
            maintenance.run(self._stop)
        except Exception:
            log.exception("maintenance crashed")
