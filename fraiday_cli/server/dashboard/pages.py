"""The dashboard's pages: queues, a queue's jobs in one state, one job, workers. GET only, read only."""

from datetime import UTC, datetime

from flask import Blueprint, render_template, request

from fraiday_cli.server.dashboard.lookup import details_or_404, known_queues, queue_or_404, state_or_404
from fraiday_cli.server.resources import resources
from fraiday_cli.tasks import job_details
from fraiday_cli.tasks.inspection import JOB_STATES, all_queue_stats, job_ids, list_workers

PAGE_SIZE = 50
MAX_START = 2**31
"""Past any real queue, and inside what Redis takes as a range index (a 64-bit integer)."""
DONE = {
    "requeued": "Requeued: the task is pending again, with all its attempts.",
    "deleted": "Deleted.",
    "paused": "Paused: workers take no more of its jobs until it is resumed.",
    "resumed": "Resumed.",
}
"""What an action's redirect reports (by a fixed code, so a URL cannot put text on the page)."""


def _done() -> str | None:
    return DONE.get(request.args.get("done", ""))


def queues() -> str:
    stats = all_queue_stats(resources().redis, known_queues())
    return render_template("dashboard/queues.html", stats=stats, states=JOB_STATES, done=_done())


def jobs(queue: str, state: str) -> str:
    queue, state = queue_or_404(queue), state_or_404(state)
    start = min(max(0, request.args.get("start", 0, type=int)), MAX_START)
    connection = resources().redis
    ids = job_ids(connection, queue, state, start, PAGE_SIZE + 1)
    return render_template(
        "dashboard/jobs.html",
        queue=queue,
        state=state,
        states=JOB_STATES,
        jobs=job_details.list_details(connection, ids[:PAGE_SIZE]),
        start=start,
        page_size=PAGE_SIZE,
        more=len(ids) > PAGE_SIZE,
        dumps=job_details.dumps,
        done=_done(),
    )


def job(task_id: str) -> str:
    found = details_or_404(task_id)
    return render_template("dashboard/job.html", job=found, dumps=job_details.dumps, done=_done())


def workers() -> str:
    return render_template(
        "dashboard/workers.html", workers=list_workers(resources().redis), now=datetime.now(UTC)
    )


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/", view_func=queues)
    blueprint.add_url_rule("/queues/<queue>/jobs/<state>", view_func=jobs)
    blueprint.add_url_rule("/jobs/<task_id>", view_func=job)
    blueprint.add_url_rule("/workers", view_func=workers)
