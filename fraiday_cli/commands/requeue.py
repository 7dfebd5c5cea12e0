"""``fraiday requeue``: send failed (dead-letter) tasks back to their queue with a fresh retry budget."""

from typing import Annotated

import typer

from fraiday_cli.commands.common import (
    DEFAULT_REGISTRY,
    RegistryOption,
    check_queues,
    fail,
    load_registry,
    queues_option,
    start,
)
from fraiday_cli.connections import redis_client
from fraiday_cli.tasks.dead_letters import requeue_failed


def requeue(
    task_ids: Annotated[
        list[str] | None, typer.Argument(metavar="[TASK_ID]...", help="Failed task ids to requeue.")
    ] = None,
    queue: Annotated[list[str] | None, queues_option("Queue to requeue from", "all")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Requeue every failed task of the queue(s).")] = False,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Requeue failed tasks, by id or all of a queue's. Prints the requeued ids, one per line."""
    settings = start()
    tasks = load_registry(settings, registry)
    check_queues(settings, tasks, queue or [])
    if not task_ids and not all_:
        fail("name task ids, or --all with --queue")
    if all_ and task_ids:
        fail("give task ids or --all, not both")
    queues = queue or tasks.queues
    outcome = requeue_failed(redis_client(settings), queues, task_ids or None)
    for task_id in outcome.requeued:
        typer.echo(task_id)
    for task_id, reason in outcome.refused.items():
        typer.echo(f"fraiday: not requeued {task_id}: {reason}", err=True)
    missing = set(task_ids or ()) - set(outcome.requeued) - set(outcome.refused)
    if missing:
        fail(f"not found among the failed tasks of {', '.join(queues)}: {', '.join(sorted(missing))}")
    # On stderr: stdout stays a plain list of ids for scripts.
    if outcome.requeued:
        typer.echo(f"requeued {len(outcome.requeued)} failed task(s) from {', '.join(queues)}", err=True)
    elif not outcome.refused:
        typer.echo(f"nothing to requeue: no failed tasks in {', '.join(queues)}", err=True)
    if outcome.refused:
        raise typer.Exit(1)
