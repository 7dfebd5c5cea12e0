"""The pool: RQ's WorkerPool forking one :class:`SlotWorker` per slot, plus a bounded graceful stop.

RQ's pool already forks, reaps and respawns slots; it lacks a way to pass our worker options, a limit
on how long a stop may take, and maintenance that does not depend on a slot being idle: the pool process
runs it (:mod:`fraiday_cli.worker.maintenance`) and restarts it whenever it dies.

On SIGTERM or SIGINT every slot finishes its current job; when the grace period is over, slots still
busy are interrupted (their job goes back to its queue), and a slot that still does not exit is killed,
leaving its job to lease-expiry recovery.
"""

import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from redis import ConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.connections import parse_connection
from rq.queue import Queue
from rq.worker_pool import ForkProcess, WorkerData, WorkerPool

from fraiday_cli.worker.job_threads import ThreadedSlotWorker
from fraiday_cli.worker.maintenance import Maintenance, MaintenanceThread, RecoveryTimes
from fraiday_cli.worker.slot import SlotPolicy, SlotWorker
from fraiday_cli.worker.slot_signals import (
    INTERRUPT_SIGNAL,
    STOP_SIGNALS,
    hold_stop_signals,
    stop_with_the_pool,
)
from handlers.wire_format import SERIALIZER

log = logging.getLogger("fraiday.worker")

KILL_AFTER_INTERRUPT_SECONDS = 5.0
SLOT_TTL_MARGIN_SECONDS = 15
RECONNECT_MAX_WAIT_SECONDS = 3.0
"""A slot retries a lost Redis at most this far apart (RQ backs off to 60 s), so work resumes promptly."""
MAINTENANCE_SOCKET_TIMEOUT_SECONDS = 10.0
DEFAULT_RECOVERY = RecoveryTimes.within(60)


@dataclass(frozen=True)
class PoolOptions:
    queues: Sequence[str]
    concurrency: int
    policy: SlotPolicy
    grace_seconds: float
    idle_wait_seconds: int
    """How long an idle slot's BLPOP waits before it looks again (at paused queues, its heartbeat)."""
    recovery: RecoveryTimes = DEFAULT_RECOVERY
    max_jobs: int | None = None
    threads: int = 1
    """Job threads per slot (:mod:`fraiday_cli.worker.job_threads`); 1 runs jobs in the slot's main thread."""
    log_level: str = "INFO"
    slot_setup: Callable[[], None] | None = None
    """Runs in each slot after the fork, before its first job (binds the handler runtime)."""


def run_slot(
    name: str,
    connection_class: type[Redis],
    pool_class: type[ConnectionPool],
    pool_kwargs: dict[str, Any],
    options: PoolOptions,
) -> None:
    """The body of one slot process."""
    signal.signal(INTERRUPT_SIGNAL, signal.SIG_IGN)  # until the worker installs its handler
    hold_stop_signals()
    stop_with_the_pool()
    if options.slot_setup is not None:
        options.slot_setup()
    connection = connection_class(connection_pool=ConnectionPool(connection_class=pool_class, **pool_kwargs))
    # RQ's BLPOP timeout is worker_ttl - 15: the idle wait.
    common: dict[str, Any] = {
        "name": name,
        "connection": connection,
        "serializer": SERIALIZER,
        "policy": options.policy,
        "worker_ttl": options.idle_wait_seconds + SLOT_TTL_MARGIN_SECONDS,
    }
    worker = (
        ThreadedSlotWorker(list(options.queues), threads=options.threads, **common)
        if options.threads > 1
        else SlotWorker(list(options.queues), **common)
    )
    worker.max_connection_wait_time = RECONNECT_MAX_WAIT_SECONDS
    # RQ logs three INFO lines per job; fraiday.task already logs each job's start and outcome.
    rq_level = "DEBUG" if options.log_level == "DEBUG" else "WARNING"
    # No RQ scheduler in the slot: the pool's maintenance moves due jobs (fraiday_cli.worker.due_jobs).
    try:
        worker.work(with_scheduler=False, max_jobs=options.max_jobs, logging_level=rq_level)
    except (RedisConnectionError, RedisTimeoutError) as error:
        # RQ registers a slot on its way in and unregisters it on its way out, once, outside its loop's
        # retries: a stop during an outage raised out of every slot, two tracebacks each. The
        # registration's TTL ends it without us.
        log.warning("slot %s stopped without reaching Redis to unregister: %s", name, error)


class SlotPool(WorkerPool):
    def __init__(self, connection: Redis, options: PoolOptions) -> None:
        queues: list[str | Queue] = [*options.queues]
        super().__init__(
            queues,
            connection=connection,
            num_workers=options.concurrency,
            serializer=SERIALIZER,
        )
        self.options = options
        # What a slot, after the fork, and maintenance rebuild their own clients from (RQ's public parser;
        # the pool keeps the same three in private attributes).
        self.connection_class, self.pool_class, self.pool_kwargs = parse_connection(connection)
        self._stop_deadline: float | None = None
        self._interrupted = False
        self._early_stop: int | None = None
        self.maintenance = MaintenanceThread(
            lambda: Maintenance(self._maintenance_connection, list(options.queues), options.recovery)
        )

    def _maintenance_connection(self) -> Redis:
        """Its own client, with timeouts: maintenance must notice a hung Redis instead of blocking."""
        kwargs = {**self.pool_kwargs, "socket_timeout": MAINTENANCE_SOCKET_TIMEOUT_SECONDS}
        pool = ConnectionPool(connection_class=self.pool_class, **kwargs)
        return self.connection_class(connection_pool=pool)

    def check_workers(self, respawn: bool = True) -> None:
        """RQ's pool loop calls this every second: respawn dead slots, and restart dead maintenance."""
        super().check_workers(respawn)
        if self.status != self.Status.STOPPED:
            self.maintenance.supervise()

    def get_worker_process(
        self, name: str, burst: bool, _sleep: float = 0, logging_level: str = "INFO"
    ) -> BaseProcess:
        return ForkProcess(
            target=run_slot,
            args=(name, self.connection_class, self.pool_class, self.pool_kwargs, self.options),
            name=f"fraiday-slot-{name[:8]}",
        )

    def request_stop(self, signum: int | None = None, frame: Any = None) -> None:
        if self._stop_deadline is None:
            log.info("stop requested: finishing running jobs within %ss", self.options.grace_seconds)
            self._stop_deadline = time.monotonic() + self.options.grace_seconds
            super().request_stop(signum, frame)

    def all_workers_have_stopped(self) -> bool:
        if self._stop_deadline is not None:
            overdue = time.monotonic() - self._stop_deadline
            if overdue >= 0 and not self._interrupted:
                self._interrupted = True
                log.warning("grace period over: interrupting %d busy slot(s)", len(self.worker_dict))
                self._signal_all(INTERRUPT_SIGNAL)
            elif overdue >= KILL_AFTER_INTERRUPT_SECONDS:
                log.error("slots did not stop after the interrupt: killing %d", len(self.worker_dict))
                self._signal_all(signal.SIGKILL)
        return bool(super().all_workers_have_stopped())

    def _signal_all(self, sig: signal.Signals) -> None:
        for data in list(self.worker_dict.values()):
            try:
                os.kill(data.pid, sig)
            except ProcessLookupError:
                continue

    @property
    def slot_ttl(self) -> int:
        """How long a slot's heartbeat stays valid: its idle wait plus a margin."""
        return self.options.idle_wait_seconds + SLOT_TTL_MARGIN_SECONDS

    def slots(self) -> list[WorkerData]:
        return list(self.worker_dict.values())

    def run(self) -> None:
        # RQ installs the pool's handlers only once every slot is forked: a stop before that would kill
        # the pool and orphan its slots. Until then a stop is noted, and honoured once they are in place.
        signal.signal(signal.SIGTERM, self._note_early_stop)
        signal.signal(signal.SIGINT, self._note_early_stop)
        threads = f" of {self.options.threads} job threads" if self.options.threads > 1 else ""
        log.info(
            "starting %d slot(s)%s on %s", self.options.concurrency, threads, ", ".join(self.options.queues)
        )
        try:
            self.start(burst=False, logging_level=self.options.log_level)
        finally:
            self.maintenance.stop()

    def _note_early_stop(self, signum: int, frame: Any) -> None:
        self._early_stop = signum

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()
        if self._early_stop is not None:
            self.request_stop(self._early_stop)

    def start_worker(
        self, count: int | None = None, burst: bool = True, _sleep: float = 0, logging_level: str = "INFO"
    ) -> None:
        """Fork with stop signals held, so the slot is born holding them (see ``hold_stop_signals``)."""
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            super().start_worker(count, burst, _sleep, logging_level)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
