"""Semantic-layer sync jobs: one record per task, with its status, timings, result or error."""

from enum import StrEnum
from typing import Any

from pymongo import ReturnDocument
from pymongo.collection import Collection

from handlers.services.database.documents import Document, utcnow


class SyncStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class SyncStore:
    def __init__(self, syncs: Collection[Document]) -> None:
        self.syncs = syncs

    def start(self, task_id: str, client_id: str, sync_type: str) -> Document:
        """Create the task's record or count one more attempt on it; it is ``running`` from now."""
        now = utcnow()
        stored = self.syncs.find_one_and_update(
            {"task_id": task_id},
            {
                "$setOnInsert": {"client_id": client_id, "sync_type": sync_type, "created_at": now},
                "$set": {"status": SyncStatus.RUNNING, "started_at": now, "error": None},
                "$inc": {"attempts": 1},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert stored is not None  # an upsert returning the document after the write always finds one
        return stored

    def running_elsewhere(self, task_id: str, client_id: str, sync_type: str, since: Any) -> Document | None:
        """Another task's sync of the same client and type that started after ``since`` and still runs."""
        return self.syncs.find_one(
            {
                "client_id": client_id,
                "sync_type": sync_type,
                "status": SyncStatus.RUNNING,
                "task_id": {"$ne": task_id},
                "started_at": {"$gt": since},
            }
        )

    def finish(
        self, record: Document, status: SyncStatus, result: Document | None = None, error: str | None = None
    ) -> None:
        now = utcnow()
        duration_ms = round((now - record["started_at"]).total_seconds() * 1000, 1)
        self.syncs.update_one(
            {"task_id": record["task_id"]},
            {
                "$set": {
                    "status": status,
                    "finished_at": now,
                    "duration_ms": duration_ms,
                    "result": result,
                    "error": error,
                }
            },
        )

    def set_waiting(self, task_id: str, error: str) -> None:
        """A failed attempt that will be retried: pending again, with why."""
        self.syncs.update_one({"task_id": task_id}, {"$set": {"status": SyncStatus.PENDING, "error": error}})

    def get(self, task_id: str) -> Document | None:
        return self.syncs.find_one({"task_id": task_id})
