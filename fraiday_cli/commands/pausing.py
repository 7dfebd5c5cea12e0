"""``fraiday pause``, ``resume`` and ``drain``: stop a queue's processing without losing its jobs."""

import sys
from typing import Annotated

import typer

from fraiday_cli.commands.common import (
    DEFAULT_REGISTRY,
    QueueOption,
    RegistryOption,
    check_queues,
    load_registry,
    start,
)
from fraiday_cli.connections import redis_client
from fraiday_cli.tasks.pausing import DrainProgress
from fraiday_cli.tasks.pausing import drain as drain_queue
from fraiday_cli.tasks.pausing import pause as pause_queue
from fraiday_cli.tasks.pausing import resume as resume_queue


def pause(queue: QueueOption, registry: RegistryOption = DEFAULT_REGISTRY) -> None:
    """Stop workers taking jobs from a queue; its jobs stay queued."""
    settings = start()
    check_queues(settings, load_registry(settings, registry), [queue])
    changed = pause_queue(redis_client(settings), queue)
    typer.echo(f"paused {queue}" if changed else f"{queue} was already paused")


def resume(queue: QueueOption, registry: RegistryOption = DEFAULT_REGISTRY) -> None:
    """Let workers take jobs from a paused queue again."""
    settings = start()
    check_queues(settings, load_registry(settings, registry), [queue])
    changed = resume_queue(redis_client(settings), queue)
    typer.echo(f"resumed {queue}" if changed else f"{queue} was not paused")


def show_progress(progress: DrainProgress) -> None:
    """One status line rewritten in place: for a person watching a terminal, never for a pipe or a log."""
    line = (
        f"draining {progress.queue}: {progress.running} job(s) running, "
        f"{progress.elapsed:.0f}s of {progress.timeout:g}s"
    )
    typer.echo(f"\r{line}\x1b[K", err=True, nl=False)


def drain(
    queue: QueueOption,
    timeout: Annotated[
        float, typer.Option(metavar="SECONDS", min=0, help="Seconds to wait for started jobs.")
    ] = 300,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Pause a queue and wait until its started jobs finish (exit 1 if they do not in time)."""
    settings = start()
    check_queues(settings, load_registry(settings, registry), [queue])
    on_terminal = sys.stderr.isatty()
    running = drain_queue(
        redis_client(settings), queue, timeout, on_progress=show_progress if on_terminal else None
    )
    if on_terminal:
        typer.echo("", err=True)
    if running:
        typer.echo(f"{queue}: {running} job(s) still running after {timeout:g}s; it stays paused", err=True)
        raise typer.Exit(1)
    typer.echo(f"drained {queue}: paused, no job running (resume with `fraiday resume --queue {queue}`)")
