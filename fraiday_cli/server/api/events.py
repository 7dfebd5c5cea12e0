"""Business events: accepted once per ``event_id``, processed (stored, delivered) by the event task."""

import hashlib
import uuid

from flask import Response, jsonify

from fraiday_cli.server.api.common import api_blueprint
from fraiday_cli.server.api.schemas import EventAccepted, EventCreate
from fraiday_cli.server.resources import resources

blueprint = api_blueprint(__name__, "/events", "events", "Business events delivered to webhook subscriptions")


def event_task_id(event_id: str) -> str:
    """One task per event id: posting the same event again finds the first task (event ids may hold
    characters a task id may not, hence the digest)."""
    return "event-" + hashlib.sha256(event_id.encode()).hexdigest()[:40]


@blueprint.post("", responses={202: EventAccepted}, summary="Accept a business event")
def post_event(body: EventCreate) -> tuple[Response, int]:
    event_id = body.event_id or uuid.uuid4().hex
    payload = {**body.model_dump(), "event_id": event_id}
    task = resources().tasks.enqueue("event:process", payload, task_id=event_task_id(event_id))
    answer = EventAccepted(event_id=event_id, task_id=task.task_id, duplicate=task.duplicate)
    return jsonify(answer.model_dump()), 202
