"""The semantic-layer sync handler: a record with status and timings, the AI call, one run at a time."""

import pytest

from handlers.payloads import SemanticLayerSyncPayload
from handlers.semantic_layer import SyncAlreadyRunning, semantic_layer_sync
from handlers.services import Services
from handlers.services.ai_client import AIServiceRejected, AIServiceUnavailable
from tests.handlers.conftest import AI_TOKEN, attempt
from tests.support.http_stub import Answer, HttpStub

SYNC = SemanticLayerSyncPayload(client_id="acme", sync_type="full")
PATH = "/v1/semantic-layer/sync"


def test_a_sync_is_recorded_from_start_to_result(services: Services, stub: HttpStub) -> None:
    stub.script(PATH, Answer(200, {"job_id": "sl-9", "status": "accepted", "eta": 30}))
    result = semantic_layer_sync(SYNC, services, attempt(1, max_attempts=3, task_id="sync-1"))
    assert result == {"client_id": "acme", "sync_type": "full", "job_id": "sl-9", "status": "accepted"}
    assert stub.to(PATH)[0].json() == {"client_id": "acme", "sync_type": "full"}
    record = services.db.syncs.get("sync-1")
    assert (record["status"], record["attempts"], record["result"]) == (
        "succeeded",
        1,
        {"job_id": "sl-9", "status": "accepted"},
    )
    assert record["finished_at"] >= record["started_at"] and record["duration_ms"] >= 0


def test_a_failing_sync_waits_for_its_retry_then_fails_on_the_last_attempt(
    services: Services, stub: HttpStub
) -> None:
    stub.script(PATH, Answer(502, "bad gateway"))
    for number in (1, 2):
        with pytest.raises(AIServiceUnavailable):
            semantic_layer_sync(SYNC, services, attempt(number, max_attempts=3, task_id="sync-2"))
        assert services.db.syncs.get("sync-2")["status"] == "pending"
    with pytest.raises(AIServiceUnavailable):
        semantic_layer_sync(SYNC, services, attempt(3, max_attempts=3, task_id="sync-2"))
    record = services.db.syncs.get("sync-2")
    assert (record["status"], record["attempts"]) == ("failed", 3)
    assert "AI service answered 502" in record["error"]


def test_a_rejected_sync_fails_at_once(services: Services, stub: HttpStub) -> None:
    stub.script(PATH, Answer(422, {"detail": "unknown sync_type"}))
    with pytest.raises(AIServiceRejected, match="422"):
        semantic_layer_sync(SYNC, services, attempt(1, max_attempts=3, task_id="sync-3"))
    assert services.db.syncs.get("sync-3")["status"] == "failed"


def test_a_second_sync_of_the_same_client_and_type_waits_while_one_runs(
    services: Services, stub: HttpStub
) -> None:
    services.db.syncs.start("running-task", "acme", "full")
    with pytest.raises(SyncAlreadyRunning, match="already running \\(task running-task\\)"):
        semantic_layer_sync(SYNC, services, attempt(1, max_attempts=3, task_id="sync-4"))
    assert stub.to(PATH) == []
    other_type = SemanticLayerSyncPayload(client_id="acme", sync_type="incremental")
    stub.script(PATH, Answer(200, {"job_id": "j", "status": "ok"}))
    assert semantic_layer_sync(other_type, services, attempt(1, task_id="sync-5"))["job_id"] == "j"


def test_an_ai_service_echoing_the_token_leaves_it_out_of_the_sync_record(
    services: Services, stub: HttpStub
) -> None:
    stub.script(
        PATH, Answer(503, "x" * 2000, echo="Authorization"), Answer(401, "no: ", echo="Authorization")
    )
    with pytest.raises(AIServiceUnavailable):
        semantic_layer_sync(SYNC, services, attempt(1, max_attempts=3, task_id="sync-5"))
    waiting = services.db.syncs.get("sync-5")["error"]
    with pytest.raises(AIServiceRejected):
        semantic_layer_sync(SYNC, services, attempt(2, max_attempts=3, task_id="sync-5"))
    failed = services.db.syncs.get("sync-5")["error"]
    assert "AI service answered 401" in failed and "Bearer [redacted]" in failed
    for error in (waiting, failed):
        assert AI_TOKEN not in error and len(error) <= 500, error
