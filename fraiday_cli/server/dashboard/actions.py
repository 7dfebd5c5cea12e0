"""The dashboard's actions: requeue or delete a job, pause or resume a queue. POST only, with the CSRF
token (checked by the blueprint); each answers with a redirect to the page that shows the outcome."""

from typing import Any

from flask import Blueprint, redirect, url_for
from werkzeug.wrappers import Response

from fraiday_cli.server.dashboard.blueprint import PageError
from fraiday_cli.server.dashboard.lookup import job_or_404, known_queues, queue_or_404
from fraiday_cli.server.resources import resources
from fraiday_cli.tasks import job_actions, pausing


def _see(endpoint: str, **values: Any) -> Response:
    return redirect(url_for(endpoint, **values), code=303)


def requeue(task_id: str) -> Response:
    job = job_or_404(task_id)
    try:
        job_actions.requeue(resources().redis, job)
    except job_actions.Refused as exc:
        raise PageError(409, str(exc)) from None
    return _see(".job", task_id=job.id, done="requeued")


def delete(task_id: str) -> Response:
    job = job_or_404(task_id)
    status = job_actions.status(job)
    try:
        job_actions.delete(job)
    except job_actions.Refused as exc:
        raise PageError(409, str(exc)) from None
    if job.origin not in known_queues():
        return _see(".queues", done="deleted")
    return _see(".jobs", queue=job.origin, state="pending" if status == "queued" else status, done="deleted")


def pause(queue: str) -> Response:
    pausing.pause(resources().redis, queue_or_404(queue))
    return _see(".queues", done="paused")


def resume(queue: str) -> Response:
    pausing.resume(resources().redis, queue_or_404(queue))
    return _see(".queues", done="resumed")


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/jobs/<task_id>/requeue", view_func=requeue, methods=["POST"])
    blueprint.add_url_rule("/jobs/<task_id>/delete", view_func=delete, methods=["POST"])
    blueprint.add_url_rule("/queues/<queue>/pause", view_func=pause, methods=["POST"])
    blueprint.add_url_rule("/queues/<queue>/resume", view_func=resume, methods=["POST"])
