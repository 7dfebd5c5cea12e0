"""``fraiday purge``: delete old failed or finished jobs of a queue (RQ expires them too, by TTL)."""

from datetime import UTC, datetime
from typing import Annotated

import typer
from rq.job import Job
from rq.serializers import JSONSerializer

from fraiday_cli.commands.common import fail, start
from fraiday_cli.connections import redis_client
from fraiday_cli.durations import parse_duration
from fraiday_cli.tasks.client import queue_for
from fraiday_cli.tasks.inspection import REGISTRIES
from fraiday_cli.tasks.status import as_utc

PURGEABLE = ("failed", "finished")


def purge(
    queue: Annotated[str, typer.Option("--queue", "-q", help="The queue.")],
    state: Annotated[str, typer.Option(help="failed or finished.")] = "failed",
    older_than: Annotated[str, typer.Option(help="Only jobs that ended this long ago: 90s, 30m, 7d.")] = "7d",
) -> None:
    """Delete a queue's failed (or finished) jobs that ended before a cut-off; print how many."""
    if state not in PURGEABLE:
        fail(f"--state must be failed or finished, got {state!r}")
    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        fail(f"--older-than: {exc}")
    connection = redis_client(start())
    registry = REGISTRIES[state](queue=queue_for(queue, connection), serializer=JSONSerializer)
    cutoff = datetime.now(UTC) - age
    ids = registry.get_job_ids(cleanup=False)
    purged = 0
    for job_id, job in zip(
        ids, Job.fetch_many(ids, connection=connection, serializer=JSONSerializer), strict=True
    ):
        ended = as_utc(job.ended_at) if job is not None else None
        if ended is None or ended < cutoff:  # a job whose hash is gone, or that ended before the cut-off
            registry.remove(job_id, delete_job=True)
            purged += 1
    typer.echo(f"purged {purged} {state} job(s) of {queue} older than {older_than}")
