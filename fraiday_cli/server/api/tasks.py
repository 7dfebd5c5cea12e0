"""Task status: what a caller holding a task id may know about it, from RQ's job record."""

from flask import Response, jsonify

from fraiday_cli.server.api.common import api_blueprint
from fraiday_cli.server.api.schemas import TaskPath
from fraiday_cli.server.errors import not_found
from fraiday_cli.server.resources import resources
from fraiday_cli.tasks.status import Task, read_task

blueprint = api_blueprint(__name__, "/tasks", "tasks", "Task status")


@blueprint.get("/<task_id>", responses={200: Task}, summary="Read a task's status")
def get_task(path: TaskPath) -> Response:
    task = read_task(resources().redis, path.task_id)
    if task is None:
        raise not_found("task", path.task_id)
    return jsonify(task.model_dump(mode="json"))
