"""Business events, stored once by ``event_id`` whatever the number of tasks or retries that carry them."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pymongo.collection import Collection

from handlers.services.database.documents import Document, insert_once, utcnow


class EventStatus(StrEnum):
    RECEIVED = "received"
    RETRYING = "retrying"
    PROCESSED = "processed"
    FAILED = "failed"


class EventStore:
    def __init__(self, events: Collection[Document]) -> None:
        self.events = events

    def record(self, event: Mapping[str, Any], task_id: str) -> tuple[Document, bool]:
        """Insert the event unless it is already stored; return the stored one (the first wins), and
        whether this call stored it."""
        document = {**event, "status": EventStatus.RECEIVED, "task_id": task_id, "received_at": utcnow()}
        return insert_once(self.events, {"event_id": event["event_id"]}, document)

    def get(self, event_id: str) -> Document | None:
        return self.events.find_one({"event_id": event_id})

    def set_status(self, event_id: str, status: EventStatus, error: str | None = None) -> None:
        fields: Document = {"status": status, "error": error, "updated_at": utcnow()}
        if status == EventStatus.PROCESSED:
            fields["processed_at"] = fields["updated_at"]
        self.events.update_one({"event_id": event_id}, {"$set": fields})
