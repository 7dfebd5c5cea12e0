"""The semantic-layer sync: ask the AI service to sync a client's semantic layer, and record the job."""

from datetime import timedelta
from typing import Any

from handlers.errors import PermanentError
from handlers.payloads import SemanticLayerSyncPayload
from handlers.registry import TaskContext
from handlers.services import Services
from handlers.services.database.documents import utcnow
from handlers.services.database.syncs import SyncStatus

SYNC_TIMEOUT_SECONDS = 900


class SyncAlreadyRunning(Exception):
    """Another task syncs the same client and type right now: try again after backoff."""


def semantic_layer_sync(
    payload: SemanticLayerSyncPayload, services: Services, task: TaskContext
) -> dict[str, Any]:
    syncs = services.db.syncs
    # The task client already refuses a second pending sync; this guards against one enqueued around it
    # (by id, or requeued by an operator). A run older than the timeout was stopped, so it does not count.
    since = utcnow() - timedelta(seconds=SYNC_TIMEOUT_SECONDS)
    other = syncs.running_elsewhere(task.task_id, payload.client_id, payload.sync_type, since)
    if other is not None:
        raise SyncAlreadyRunning(
            f"a {payload.sync_type} sync of {payload.client_id} is already running (task {other['task_id']})"
        )
    record = syncs.start(task.task_id, payload.client_id, payload.sync_type)
    try:
        answer = services.ai.sync(payload.client_id, payload.sync_type)
    except Exception as exc:
        # The AI service's answer is in the text, and it may echo our token.
        if isinstance(exc, PermanentError) or task.is_last_attempt:
            syncs.finish(record, SyncStatus.FAILED, error=services.redactor.error(str(exc)))
        else:
            syncs.set_waiting(task.task_id, services.redactor.error(f"attempt {task.attempt}: {exc}"))
        raise
    result = answer.model_dump()
    syncs.finish(record, SyncStatus.SUCCEEDED, result=result)
    return {"client_id": payload.client_id, "sync_type": payload.sync_type, **result}
