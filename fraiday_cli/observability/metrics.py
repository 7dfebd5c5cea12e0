"""Prometheus exposition that adds up every process of a pod, plus the queue-depth gauge.

``fraiday server`` (gunicorn workers) and ``fraiday worker`` (forked slots) each run several processes.
prometheus-client's multiprocess mode has each process write its values to files in one directory,
which the exposition sums. The mode must be chosen before the first metric value exists, so both
commands call :func:`enable_multiprocess` first thing, before they fork; the directory is emptied then,
because values left by a previous run would otherwise be counted again. A directory made here (no
``$PROMETHEUS_MULTIPROC_DIR``) is removed when the command's own process exits: each start made a new one,
and thousands piled up in ``/tmp``.
"""

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import redis
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from fraiday_cli.tasks.inspection import all_queue_stats

log = logging.getLogger("fraiday.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEPTH_STATES = ("pending", "scheduled", "started", "failed")


def enable_multiprocess() -> Path:
    """Use ``$PROMETHEUS_MULTIPROC_DIR`` (or a new temporary directory), emptied, for this process tree."""
    configured = os.environ.get(MULTIPROC_ENV)
    directory = Path(configured or tempfile.mkdtemp(prefix="fraiday-metrics-"))
    if not configured:
        atexit.register(_remove_from, os.getpid(), directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()
    return directory


def _remove_from(owner: int, directory: Path) -> None:
    """At exit of the process that made ``directory`` only: forked children (gunicorn's workers, which
    exit through ``sys.exit``) inherit the hook while the others still write there."""
    if os.getpid() == owner:
        shutil.rmtree(directory, ignore_errors=True)


class QueueDepth(Collector):
    """``fraiday_queue_depth{queue,state}``, read from Redis at scrape time."""

    def __init__(self, connection: redis.Redis, queues: Sequence[str]) -> None:
        self.connection = connection
        self.queues = list(queues)

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "fraiday_queue_depth", "Jobs per queue and state.", labels=["queue", "state"]
        )
        try:
            stats = all_queue_stats(self.connection, self.queues)
        except redis.RedisError as error:
            log.warning("queue depth unavailable: %s", error)
            return
        for queue in stats:
            for state in DEPTH_STATES:
                gauge.add_metric([queue.queue, state], getattr(queue, state))
        yield gauge


def exposition(connection: redis.Redis | None = None, queues: Sequence[str] = ()) -> bytes:
    registry = CollectorRegistry()
    if MULTIPROC_ENV in os.environ:
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    if connection is not None and queues:
        registry.register(QueueDepth(connection, queues))
    return generate_latest(registry)
