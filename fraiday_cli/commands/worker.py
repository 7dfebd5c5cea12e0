"""``fraiday worker``: a pool of forked slots consuming one or more queues."""

import logging
import signal
from functools import partial
from typing import Annotated

import typer

from config import Settings
from config.redaction import Redactor
from fraiday_cli.commands.common import (
    DEFAULT_REGISTRY,
    RegistryOption,
    fail,
    from_settings,
    load_registry,
    queues_option,
    start,
)
from fraiday_cli.commands.ports import cannot_listen
from fraiday_cli.connections import redis_client
from fraiday_cli.observability.metrics import enable_multiprocess
from fraiday_cli.observability.tracing import configure_tracing
from fraiday_cli.reconnect import wait_for_redis
from fraiday_cli.worker.maintenance import RecoveryTimes
from fraiday_cli.worker.pool import PoolOptions, SlotPool
from fraiday_cli.worker.probes import Probes, serve
from fraiday_cli.worker.rq_logs import quiet_rq_logs
from fraiday_cli.worker.slot import SlotPolicy
from fraiday_cli.worker.slot_signals import STOP_SIGNALS
from handlers import runtime
from handlers.registry import Registry

log = logging.getLogger("fraiday.worker")


MAX_THREADS = 100
"""Job threads per slot: MongoDB's default pool (100 connections) serves them all without waiting."""


def parse_threads(text: str) -> int:
    """One line and exit 2 for a bad value (click's own error for an int option is three lines)."""
    threads = int(text) if text.isascii() and text.isdigit() else 0  # int() also takes "1_0", "+5", " 5"
    if not 1 <= threads <= MAX_THREADS:
        fail(f"--threads must be a whole number from 1 to {MAX_THREADS}, got {text!r}")
    return threads


class HeldStop:
    """The pool's stop reaching a slot that still sets up, where stop signals are held (blocked, see
    ``hold_stop_signals``): waiting for one of them is the only way to see it. Without this the slot's
    wait for Redis outlived every stop asked during an outage, until the pool killed it."""

    def __init__(self) -> None:
        self.received = False

    def is_set(self) -> bool:
        return self.received

    def wait(self, timeout: float) -> bool:
        self.received = self.received or signal.sigtimedwait(STOP_SIGNALS, timeout) is not None
        return self.received


def prepare_slot(registry: Registry, settings: Settings, threads: int = 1) -> None:
    """Runs in each slot after the fork: the handlers' dependencies, tracing if it is asked for, and a
    wait (one line per attempt, backing off) while Redis is unreachable, instead of a slot that dies with
    a traceback and is restarted every second. A stop during that wait ends the slot at once."""
    runtime.bind(registry, settings, threads=threads)
    configure_tracing("fraiday-worker")
    quiet_rq_logs()
    if not wait_for_redis(redis_client(settings), log, HeldStop()):
        raise SystemExit(0)


def warn_without_ai_service(tasks: Registry, queues: list[str], settings: Settings) -> None:
    """Once, at start: every such task would otherwise be the first to tell, each failing on its own."""
    needing = [spec for spec in tasks if spec.needs_ai_service and spec.queue in queues]
    if needing and settings.ai_service_url is None:
        log.warning(
            "AI_SERVICE_URL is not set: %s tasks on %s will fail without retrying until it is",
            ", ".join(spec.name for spec in needing),
            ", ".join(sorted({spec.queue for spec in needing})),
        )


def worker(
    queue: Annotated[list[str] | None, queues_option("Queue to consume", "every queue")] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", metavar="N", min=1, max=256, help="Slots (processes).")
    ] = 1,
    threads: Annotated[
        str,
        typer.Option(
            "--threads",
            "-t",
            metavar="T",
            help=f"Job threads per slot (1-{MAX_THREADS}): for jobs that mostly wait on the network (the "
            "AI service); 1 runs each job in its slot's main thread.",
        ),
    ] = "1",
    strict: Annotated[
        bool, typer.Option(help="Serve queues in strict weight order instead of weighted.")
    ] = False,
    grace_period: Annotated[
        int | None,
        typer.Option(
            metavar="SECONDS",
            min=1,
            help="Seconds running jobs get on SIGTERM before they are requeued. "
            + from_settings("worker_grace_seconds"),
        ),
    ] = None,
    max_jobs: Annotated[
        int | None,
        typer.Option(
            metavar="N", min=1, help="Recycle a slot after this many jobs (bounds leaks). [default: never]"
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            metavar="PORT",
            min=0,
            max=65535,
            help="Port of /metrics, /livez, /readyz; 0 disables. " + from_settings("metrics_port"),
        ),
    ] = None,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Run task workers: N forked slots, each taking jobs from the given queues by weight."""
    job_threads = parse_threads(threads)
    settings = start()
    enable_multiprocess()
    tasks = load_registry(settings, registry)
    queues = list(dict.fromkeys(queue or tasks.queues))
    unrouted = sorted(set(queues) - set(tasks.queues))
    if unrouted:
        log.warning("no task type is routed to queue(s) %s", ", ".join(unrouted))
    warn_without_ai_service(tasks, queues, settings)
    recovery = RecoveryTimes.within(settings.recovery_seconds)
    options = PoolOptions(
        queues=queues,
        concurrency=concurrency,
        policy=SlotPolicy(
            weights=settings.queue_weights,
            strict=strict,
            lease_seconds=recovery.lease,
            redactor=Redactor(settings.secret_values()),
        ),
        grace_seconds=grace_period or settings.worker_grace_seconds,
        # An idle slot's BLPOP returns this often, so it notices a paused or resumed queue in time.
        idle_wait_seconds=settings.recovery_seconds // 2,
        recovery=recovery,
        max_jobs=max_jobs,
        threads=job_threads,
        log_level=settings.log_level,
        slot_setup=partial(prepare_slot, tasks, settings, job_threads),
    )
    pool = SlotPool(redis_client(settings, socket_timeout=None), options)
    port = settings.metrics_port if metrics_port is None else metrics_port
    if port:
        # Its own client, with timeouts: a probe must answer even when Redis hangs.
        probes = Probes(pool.slots, redis_client(settings), queues, stale_after_seconds=pool.slot_ttl)
        try:
            serve(probes, port)
        except OSError as error:
            cannot_listen("0.0.0.0", port, error, "--metrics-port or FRAIDAY_METRICS_PORT")  # noqa: S104
    pool.run()
