"""``fraiday celery-bridge``: move legacy Celery task messages onto fraiday's queues during the migration."""

import logging
from typing import Annotated

import typer
from prometheus_client import start_http_server

from fraiday_cli.celery_bridge.bridge import CeleryBridge
from fraiday_cli.commands.common import (
    DEFAULT_REGISTRY,
    MetricsPortOption,
    RegistryOption,
    bridged_redis,
    load_registry,
    queues_option,
    start,
    stop_on_signals,
)
from fraiday_cli.connections import redis_client
from fraiday_cli.tasks.client import TaskClient

log = logging.getLogger("fraiday.celery_bridge")

IDLE_WAIT_SECONDS = 1


def celery_bridge(
    queue: Annotated[list[str] | None, queues_option("Celery queue to drain", "every fraiday queue")] = None,
    broker_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            envvar="CELERY_BROKER_URL",
            show_envvar=False,  # in the help text, where the default can follow it
            help="Celery's Redis broker. [env var: CELERY_BROKER_URL; default: fraiday's own Redis]",
        ),
    ] = None,
    metrics_port: MetricsPortOption = 0,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Enqueue legacy Celery task messages (send_chat_workflow, process_event, ...) as fraiday tasks."""
    settings = start()
    tasks = load_registry(settings, registry)
    url = broker_url or settings.redis_url
    # Celery's Redis transport only; reads block for IDLE_WAIT_SECONDS at most.
    broker = bridged_redis(url, "--broker-url", read_timeout_seconds=IDLE_WAIT_SECONDS + 5)
    queues = list(dict.fromkeys(queue or tasks.queues))
    if metrics_port:
        start_http_server(metrics_port)
    bridge = CeleryBridge(broker, TaskClient(redis_client(settings), tasks), queues, IDLE_WAIT_SECONDS)
    stop = stop_on_signals(log)  # before the line that says it runs: a stop from then on is clean
    log.info("bridging Celery queues %s", ", ".join(queues))
    bridge.run(stop)
