"""``fraiday asynq-bridge``: move the Go service's waiting Asynq tasks onto fraiday's queues at the switch.

The bridge and protobuf are imported when the command runs: every other command, a worker above all,
starts without paying for a tool used once, at the switch-over.
"""

import logging
from typing import Annotated, cast

import redis
import typer

from config.addresses import masked_url
from fraiday_cli.commands.common import (
    DEFAULT_REGISTRY,
    MetricsPortOption,
    RegistryOption,
    bridged_redis,
    fail,
    load_registry,
    queues_option,
    start,
    stop_on_signals,
)
from fraiday_cli.connections import redis_client
from fraiday_cli.unreachable import reason
from handlers.errors import UnknownTaskType

log = logging.getLogger("fraiday.asynq_bridge")

ALL_QUEUES = "asynq:queues"
"""Asynq's set of every queue it has seen."""

IDLE_WAIT_SECONDS = 1.0


def asynq_bridge(
    queue: Annotated[
        list[str] | None, queues_option("Asynq queue to drain", "every queue in asynq:queues")
    ] = None,
    asynq_redis_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            envvar="ASYNQ_REDIS_URL",
            show_envvar=False,  # in the help text, where the default can follow it
            help="The Go service's Redis. [env var: ASYNQ_REDIS_URL; default: fraiday's own Redis]",
        ),
    ] = None,
    types: Annotated[
        str,
        typer.Option(
            metavar="PAIRS",
            envvar="FRAIDAY_ASYNQ_TYPES",
            show_envvar=False,
            help="Asynq type names that differ from fraiday's, as fraiday-type=asynq-type pairs, e.g. "
            "chat:workflow=chat_workflow,event:process=event_processor. "
            "[env var: FRAIDAY_ASYNQ_TYPES; default: the same names]",
        ),
    ] = "",
    metrics_port: MetricsPortOption = 0,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Enqueue the Go service's pending, scheduled and retry Asynq tasks as fraiday tasks."""
    from prometheus_client import start_http_server

    from fraiday_cli.asynq_bridge.bridge import AsynqBridge
    from fraiday_cli.asynq_bridge.payloads import TypeNames, parse_type_names
    from fraiday_cli.tasks.client import TaskClient

    settings = start()
    tasks = load_registry(settings, registry)
    try:
        names = TypeNames(tasks, parse_type_names(types))
    except (ValueError, UnknownTaskType) as error:
        fail(f"--types (FRAIDAY_ASYNQ_TYPES): {error}")
    url = asynq_redis_url or settings.redis_url
    broker = bridged_redis(url, "--asynq-redis-url", read_timeout_seconds=10)
    queues = list(dict.fromkeys(queue or [])) or _known_queues(broker, url)
    if not queues:
        fail(f"no --queue given and {ALL_QUEUES} lists none: is this the Go service's Redis?")
    if metrics_port:
        start_http_server(metrics_port)
    client = TaskClient(redis_client(settings), tasks)
    AsynqBridge(broker, client, names, queues, IDLE_WAIT_SECONDS).run(stop_on_signals(log))


def _known_queues(broker: redis.Redis, url: str) -> list[str]:
    """Asynq's queues; an unreachable Redis is the CLI's one line with exit 1, naming this Redis (the
    generic line would name fraiday's own, which ASYNQ_REDIS_URL may not be)."""
    try:
        members = cast(set[bytes], broker.smembers(ALL_QUEUES))
    except redis.RedisError as error:
        typer.echo(f"fraiday: cannot reach the Asynq Redis at {masked_url(url)}: {reason(error)}", err=True)
        raise typer.Exit(1) from None
    return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
