"""``fraiday queues`` and ``fraiday jobs``: what the queues hold, without redis-cli."""

import json
from typing import Annotated

import typer

from fraiday_cli.commands.common import (
    DEFAULT_REGISTRY,
    QueueOption,
    RegistryOption,
    check_queues,
    fail,
    load_registry,
    queues_option,
    start,
)
from fraiday_cli.commands.tables import table
from fraiday_cli.connections import redis_client
from fraiday_cli.tasks.inspection import JOB_STATES, all_queue_stats, list_jobs
from fraiday_cli.tasks.queue_names import known_queues

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def queues(
    queue: Annotated[list[str] | None, queues_option("Only this queue", "all")] = None,
    as_json: JsonFlag = False,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Per queue: pending, scheduled, started, failed and finished jobs, workers, oldest pending age."""
    settings = start()
    tasks = load_registry(settings, registry)
    check_queues(settings, tasks, queue or [])
    stats = all_queue_stats(redis_client(settings), queue or known_queues(tasks, settings))
    if as_json:
        typer.echo(json.dumps([s.as_dict() for s in stats], indent=2))
        return
    header = ("QUEUE", "PENDING", "SCHEDULED", "STARTED", "FAILED", "FINISHED", "WORKERS", "OLDEST", "PAUSED")
    rows = [
        (s.queue, s.pending, s.scheduled, s.started, s.failed, s.finished, s.workers,
         _age(s.oldest_pending_seconds), "yes" if s.paused else "")
        for s in stats
    ]  # fmt: skip
    typer.echo(table(header, rows))


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.0f}s"


def jobs(
    queue: QueueOption,
    state: Annotated[
        str, typer.Option(metavar="STATE", help=f"One of {', '.join(JOB_STATES)}.", show_default=True)
    ] = "failed",
    limit: Annotated[int, typer.Option(metavar="N", min=1, max=10_000, help="At most this many jobs.")] = 50,
    as_json: JsonFlag = False,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """List a queue's jobs in one state: id, type, attempts, last error."""
    settings = start()
    check_queues(settings, load_registry(settings, registry), [queue])
    if state not in JOB_STATES:
        fail(f"--state must be one of {', '.join(JOB_STATES)}; got {state!r}")
    described = list_jobs(redis_client(settings), queue, state, limit)
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in described], indent=2))
        return
    if not described:
        typer.echo(f"no {state} jobs in {queue}")
        return
    rows = [
        (d.task_id, d.task_type or "?", f"{d.attempts}/{d.max_attempts or '?'}", d.status, d.last_error or "")
        for d in described
    ]
    typer.echo(table(("TASK ID", "TYPE", "ATTEMPTS", "STATUS", "LAST ERROR"), rows))
