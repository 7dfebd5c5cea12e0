"""Webhook subscriptions per client, and one delivery record per (source, subscription).

A delivery record is keyed by what is being delivered (an event, a chat reply) and to whom, under a
unique index, and carries a delivery id derived from that key: every retry of one delivery sends the
same ``X-Fraiday-Delivery``, so receivers can drop the rare duplicate (a crash between their 2xx and our
write), and a task run twice skips what is already delivered. Because the id follows from the key, the
first attempt of a delivery needs no record before it is sent (:meth:`DeliveryStore.record_first_attempt`):
a crash after sending leaves none, and the retry creates it with the id the receiver already saw.
"""

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.collection import Collection

from handlers.services.database.documents import Document, insert_once, object_id, utcnow

ALL_EVENTS = "*"
DELIVERY_ID_NAMESPACE = uuid.UUID("5d1f3c0e-8b6a-4f4e-9c2d-7a0b1e6f2c94")


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

    @staticmethod
    def delivery_id(source: str, subscription: Document) -> str:
        """The ``X-Fraiday-Delivery`` of delivering ``source`` to ``subscription``, whoever sends it.

        (Records made before it was derived keep the random one they were given.)"""
        return uuid.uuid5(DELIVERY_ID_NAMESPACE, _key(source, subscription)).hex

    def open(self, source: str, subscription: Document, event_type: str) -> Document:
        """The record of delivering ``source`` to ``subscription``, created on first use."""
        stored, _ = insert_once(
            self.deliveries, {"key": _key(source, subscription)}, _record(source, subscription, event_type)
        )
        return stored

    def record_first_attempt(
        self,
        source: str,
        subscription: Document,
        event_type: str,
        status: DeliveryStatus,
        status_code: int | None,
        error: str | None,
        latency_ms: float,
    ) -> None:
        """Record an attempt sent without a record opened first, for ``source`` that nothing was ever
        delivered of (one command instead of two). A run that raced this one may have opened the record
        meanwhile: the attempt is then counted on it."""
        record = _record(source, subscription, event_type)
        record.update(_outcome(status, status_code, error, latency_ms, record["created_at"]), attempts=1)
        stored, new = insert_once(self.deliveries, {"key": _key(source, subscription)}, record)
        if not new:
            self.record_attempt(stored, status, status_code, error, latency_ms)

    def record_attempt(
        self,
        record: Document,
        status: DeliveryStatus,
        status_code: int | None,
        error: str | None,
        latency_ms: float,
    ) -> None:
        fields = _outcome(status, status_code, error, latency_ms, utcnow())
        self.deliveries.update_one({"_id": record["_id"]}, {"$set": fields, "$inc": {"attempts": 1}})

    def for_source(self, source: str) -> list[Document]:
        return list(self.deliveries.find({"source": source}).sort("_id", ASCENDING))


def _key(source: str, subscription: Document) -> str:
    return f"{source}:{subscription['_id']}"


def _record(source: str, subscription: Document, event_type: str) -> Document:
    """A delivery record before its first attempt."""
    return {
        "source": source,
        "subscription_id": subscription["_id"],
        "client_id": subscription["client_id"],
        "event_type": event_type,
        "url": subscription["url"],
        "delivery_id": DeliveryStore.delivery_id(source, subscription),
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "last_status_code": None,
        "last_error": None,
        "latency_ms": None,
        "delivered_at": None,
        "created_at": utcnow(),
    }


def _outcome(
    status: DeliveryStatus, status_code: int | None, error: str | None, latency_ms: float, now: datetime
) -> Document:
    """The fields an attempt sets."""
    fields: Document = {
        "status": status.value,
        "last_status_code": status_code,
        "last_error": error,
        "latency_ms": latency_ms,
        "updated_at": now,
    }
    if status is DeliveryStatus.DELIVERED:
        fields["delivered_at"] = now
    return fields
