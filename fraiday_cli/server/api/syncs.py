"""Semantic-layer syncs per client: one pending or running per client and sync type."""

from flask import Response, jsonify

from fraiday_cli.server.api.common import api_blueprint
from fraiday_cli.server.api.schemas import ClientPath, SyncCreate, TaskAccepted
from fraiday_cli.server.errors import ApiError, ErrorBody
from fraiday_cli.server.resources import resources

blueprint = api_blueprint(__name__, "/clients", "semantic layer", "Semantic-layer syncs")


@blueprint.post(
    "/<client_id>/semantic-layer/sync",
    responses={202: TaskAccepted, 409: ErrorBody},
    summary="Start a semantic-layer sync",
    description="409 when a sync of this client and type is already queued or running; "
    "the answer's `task_id` names it.",
)
def start_sync(path: ClientPath, body: SyncCreate) -> tuple[Response, int]:
    task = resources().tasks.enqueue(
        "semantic_layer:sync", {"client_id": path.client_id, "sync_type": body.sync_type}
    )
    if task.duplicate:
        raise ApiError(
            409,
            "sync_pending",
            f"a {body.sync_type} sync of {path.client_id} is already queued or running",
            task_id=task.task_id,
        )
    return jsonify(TaskAccepted(task_id=task.task_id, duplicate=False).model_dump()), 202
