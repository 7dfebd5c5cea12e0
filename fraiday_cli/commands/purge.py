"""``fraiday purge``: delete old failed or finished jobs of a queue (RQ expires them too, by TTL)."""

from typing import Annotated

import typer

from fraiday_cli.commands.common import (
    DEFAULT_REGISTRY,
    QueueOption,
    RegistryOption,
    check_queues,
    fail,
    load_registry,
    start,
)
from fraiday_cli.connections import redis_client
from fraiday_cli.durations import parse_duration
from fraiday_cli.tasks.purging import PURGEABLE, purge_ended_jobs


def purge(
    queue: QueueOption,
    state: Annotated[str, typer.Option(metavar="STATE", help="failed or finished.")] = "failed",
    older_than: Annotated[
        str, typer.Option(metavar="DURATION", help="Only jobs that ended this long ago: 90s, 30m, 7d.")
    ] = "7d",
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Delete a queue's failed (or finished) jobs that ended before a cut-off; print how many."""
    settings = start()
    check_queues(settings, load_registry(settings, registry), [queue])
    if state not in PURGEABLE:
        fail(f"--state must be failed or finished, got {state!r}")
    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        fail(f"--older-than: {exc}")
    purged = purge_ended_jobs(redis_client(settings), queue, state, age)
    typer.echo(f"purged {purged} {state} job(s) of {queue} older than {older_than}")
