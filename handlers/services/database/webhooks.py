"""Webhook subscriptions per client, and one delivery record per (source, subscription).

A delivery record is keyed by what is being delivered (an event, a chat reply) and to whom, under a
unique index, and carries a delivery id fixed at creation: every retry of one delivery sends the same
``X-Fraiday-Delivery``, so receivers can drop the rare duplicate (a crash between their 2xx and our
write), and a task run twice skips what is already delivered.
"""

import secrets
import uuid
from collections.abc import Sequence
from enum import StrEnum

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.collection import Collection

from handlers.services.database.documents import Document, insert_once, object_id, utcnow

ALL_EVENTS = "*"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"
    GONE = "gone"
    REFUSED = "refused"

    @property
    def final(self) -> bool:
        return self not in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


class SubscriptionStore:
    def __init__(self, subscriptions: Collection[Document]) -> None:
        self.subscriptions = subscriptions

    def create(self, client_id: str, url: str, event_types: Sequence[str]) -> Document:
        now = utcnow()
        subscription = {
            "client_id": client_id,
            "url": url,
            "event_types": list(dict.fromkeys(event_types)),
            "secret": "whsec_" + secrets.token_urlsafe(32),
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        subscription["_id"] = self.subscriptions.insert_one(subscription).inserted_id
        return subscription

    def for_client(self, client_id: str) -> list[Document]:
        return list(self.subscriptions.find({"client_id": client_id}).sort("_id", ASCENDING))

    def get(self, client_id: str, webhook_id: str) -> Document | None:
        return self.subscriptions.find_one(
            {"_id": object_id(webhook_id, "webhook_id"), "client_id": client_id}
        )

    def delete(self, client_id: str, webhook_id: str) -> bool:
        result = self.subscriptions.delete_one(
            {"_id": object_id(webhook_id, "webhook_id"), "client_id": client_id}
        )
        return result.deleted_count == 1

    def matching(self, client_id: str, event_type: str) -> list[Document]:
        """The client's active subscriptions to ``event_type`` (``*`` subscribes to every type)."""
        query = {"client_id": client_id, "active": True, "event_types": {"$in": [event_type, ALL_EVENTS]}}
        return list(self.subscriptions.find(query).sort("_id", ASCENDING))

    def deactivate(self, subscription_id: ObjectId, reason: str) -> None:
        now = utcnow()
        self.subscriptions.update_one(
            {"_id": subscription_id},
            {
                "$set": {
                    "active": False,
                    "deactivated_at": now,
                    "deactivated_reason": reason,
                    "updated_at": now,
                }
            },
        )


class DeliveryStore:
    def __init__(self, deliveries: Collection[Document]) -> None:
        self.deliveries = deliveries

    def open(self, source: str, subscription: Document, event_type: str) -> Document:
        """The record of delivering ``source`` to ``subscription``, created on first use."""
        now = utcnow()
        document = {
            "source": source,
            "subscription_id": subscription["_id"],
            "client_id": subscription["client_id"],
            "event_type": event_type,
            "url": subscription["url"],
            "delivery_id": uuid.uuid4().hex,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "last_status_code": None,
            "last_error": None,
            "latency_ms": None,
            "delivered_at": None,
            "created_at": now,
        }
        stored, _ = insert_once(self.deliveries, {"key": f"{source}:{subscription['_id']}"}, document)
        return stored

    def record_attempt(
        self,
        record: Document,
        status: DeliveryStatus,
        status_code: int | None,
        error: str | None,
        latency_ms: float,
    ) -> None:
        now = utcnow()
        fields: Document = {
            "status": status.value,
            "last_status_code": status_code,
            "last_error": error,
            "latency_ms": latency_ms,
            "updated_at": now,
        }
        if status is DeliveryStatus.DELIVERED:
            fields["delivered_at"] = now
        self.deliveries.update_one({"_id": record["_id"]}, {"$set": fields, "$inc": {"attempts": 1}})

    def for_source(self, source: str) -> list[Document]:
        return list(self.deliveries.find({"source": source}).sort("_id", ASCENDING))
