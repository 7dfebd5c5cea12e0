"""``fraiday pause``, ``resume`` and ``drain``: stop a queue's processing without losing its jobs.

``drain`` is the rollback step: pause the queue, then wait until the jobs already started have finished,
so the old and new workers never run the queue's jobs side by side.
"""

import time
from typing import Annotated

import typer
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from fraiday_cli.commands.common import start
from fraiday_cli.connections import redis_client
from fraiday_cli.tasks.client import queue_for
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
    connection = redis_client(start())
    pause_queue(connection, queue)
    started = StartedJobRegistry(queue=queue_for(queue, connection), serializer=JSONSerializer)
    deadline = time.monotonic() + timeout
    while (running := started.get_job_count(cleanup=False)) > 0:
        if time.monotonic() >= deadline:
            typer.echo(
                f"{queue}: {running} job(s) still running after {timeout:g}s; it stays paused", err=True
            )
            raise typer.Exit(1)
        time.sleep(0.5)
    typer.echo(f"drained {queue}: paused, no job running (resume with `fraiday resume --queue {queue}`)")
