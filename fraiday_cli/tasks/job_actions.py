"""Requeue or delete one job on an operator's order; only a well-formed fraiday job is ever re-saved.

Re-saving a hash that is not fraiday's JSON job would write back whatever it was planted with (or fail
half-way), so such a job can only be deleted. Requeueing is for dead letters, with a fresh retry
budget (:func:`~fraiday_cli.tasks.dead_letters.requeue_failed`); deleting a job a worker is running
would leave the worker reporting on a job that no longer exists, so that waits until it ends.
"""

import redis
from rq.job import Job, JobStatus

from fraiday_cli.tasks.dead_letters import requeue_failed
from fraiday_cli.tasks.job_details import details


class Refused(Exception):
    """The action does not apply to this job; the message says why, for the operator."""


def requeue(connection: redis.Redis, job: Job) -> None:
    found = details(job, connection)
    if found.problem is not None:
        raise Refused(f"{job.id} is not a fraiday job ({found.problem}): it cannot be requeued, only deleted")
    if found.task.status != "failed" or not requeue_failed(connection, [job.origin], [job.id]):
        raise Refused(f"only failed tasks can be requeued; {job.id} is {found.task.status}")


def delete(job: Job) -> None:
    if job.get_status(refresh=False) == JobStatus.STARTED:
        raise Refused(f"{job.id} is running; delete it once it has ended")
    job.delete()
