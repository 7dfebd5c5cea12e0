"""``fraiday pause``, ``resume`` and ``drain``: stop a queue's processing without losing its jobs."""

from typing import Annotated

import typer

from fraiday_cli.commands.common import start
from fraiday_cli.connections import redis_client
from fraiday_cli.tasks.pausing import drain as drain_queue
from fraiday_cli.tasks.pausing import pause as pause_queue
from fraiday_cli.tasks.pausing import resume as resume_queue

QueueOption = Annotated[str, typer.Option("--queue", "-q", help="The queue.")]


def pause(queue: QueueOption) -> None:
    """Stop workers taking jobs from a queue; its jobs stay queued."""
    pause_queue(redis_client(start()), queue)
    typer.echo(f"paused {queue}")


def resume(queue: QueueOption) -> None:
    """Let workers take jobs from a paused queue again."""
    resume_queue(redis_client(start()), queue)
    typer.echo(f"resumed {queue}")


def drain(
    queue: QueueOption,
    timeout: Annotated[float, typer.Option(min=0, help="Seconds to wait for started jobs.")] = 300,
) -> None:
    """Pause a queue and wait until its started jobs finish (exit 1 if they do not in time)."""
    running = drain_queue(redis_client(start()), queue, timeout)
    if running:
        typer.echo(f"{queue}: {running} job(s) still running after {timeout:g}s; it stays paused", err=True)
        raise typer.Exit(1)
    typer.echo(f"drained {queue}: paused, no job running (resume with `fraiday resume --queue {queue}`)")
