"""Requeue or delete one job on an operator's order; only a well-formed fraiday job is ever re-saved.

Re-saving a hash that is not fraiday's JSON job would write back whatever it was planted with (or fail
half-way), so such a job can only be deleted. Requeueing is for dead letters, with a fresh retry
budget (:func:`~fraiday_cli.tasks.dead_letters.requeue_failed`); deleting a job a worker is running
would leave the worker reporting on a job that no longer exists, so that waits until it ends.
"""

import redis
from rq.job import Job, JobStatus

from fraiday_cli.tasks.dead_letters import requeue_failed
from fraiday_cli.tasks.status import STATUS


class Refused(Exception):
    """The action does not apply to this job; the message says why, for the operator."""


def requeue(connection: redis.Redis, job: Job) -> None:
    outcome = requeue_failed(connection, [job.origin], [job.id])
    if job.id in outcome.refused:
        raise Refused(f"{job.id} cannot be requeued, only deleted: {outcome.refused[job.id]}")
    if job.id not in outcome.requeued:
        raise Refused(f"only failed tasks can be requeued; {job.id} is {status(job)}")


def status(job: Job) -> str:
    return STATUS.get(job.get_status(refresh=False) or JobStatus.QUEUED, "queued")


def delete(job: Job) -> None:
    if job.get_status(refresh=False) == JobStatus.STARTED:
        raise Refused(f"{job.id} is running; delete it once it has ended")
    job.delete()
