"""Finding what a dashboard URL names, or a 404 page: only known queues and states, only existing jobs."""

from rq.job import Job

from fraiday_cli.server.dashboard.blueprint import PageError
from fraiday_cli.server.resources import resources
from fraiday_cli.tasks import job_details, queue_names
from fraiday_cli.tasks.inspection import JOB_STATES
from fraiday_cli.tasks.job_loading import Unloadable


def known_queues() -> list[str]:
    """The same names the CLI accepts."""
    found = resources()
    return queue_names.known_queues(found.registry, found.settings)


def queue_or_404(name: str) -> str:
    if name not in known_queues():
        raise PageError(404, f"There is no queue named {name!r}.")
    return name


def details_or_404(task_id: str) -> job_details.JobDetails:
    found = job_details.read(resources().redis, task_id)
    if found is None:
        raise PageError(404, f"There is no job {task_id!r} (it may have ended and expired).")
    return found


def state_or_404(state: str) -> str:
    if state not in JOB_STATES:
        raise PageError(404, f"There is no job state {state!r}; states are {', '.join(JOB_STATES)}.")
    return state


def job_or_404(task_id: str) -> Job:
    try:
        job = job_details.fetch(resources().redis, task_id)
    except Unloadable as exc:
        raise PageError(409, f"{task_id} cannot be changed here: {job_details.UNLOADABLE} ({exc}).") from None
    if job is None:
        raise PageError(404, f"There is no job {task_id!r} (it may have ended and expired).")
    return job
