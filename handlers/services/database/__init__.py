"""The MongoDB side of fraiday: one store per domain over one database, with the indexes they rely on.

Every uniqueness the workflows count on (one reply per message, one delivery record per event and
subscription, one event per ``event_id``, one sync record per task) is a unique index, so a retried or
duplicated task cannot write twice even when two runs race.
"""

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database as MongoDatabase

from handlers.services.database.chat import ChatStore
from handlers.services.database.events import EventStore
from handlers.services.database.syncs import SyncStore
from handlers.services.database.webhooks import DeliveryStore, SubscriptionStore

INDEXES: dict[str, list[IndexModel]] = {
    "chat_sessions": [IndexModel([("client_id", ASCENDING), ("created_at", DESCENDING)])],
    "chat_messages": [
        # Both message queries filter by session and order by _id (a message page, a chat's context).
        IndexModel([("session_id", ASCENDING), ("_id", ASCENDING)]),
        IndexModel([("reply_key", ASCENDING)], unique=True, sparse=True),
    ],
    "webhook_subscriptions": [IndexModel([("client_id", ASCENDING), ("active", ASCENDING)])],
    "webhook_deliveries": [
        IndexModel([("key", ASCENDING)], unique=True),
        IndexModel([("source", ASCENDING)]),
    ],
    "events": [IndexModel([("event_id", ASCENDING)], unique=True)],
    "semantic_layer_syncs": [
        IndexModel([("task_id", ASCENDING)], unique=True),
        IndexModel([("client_id", ASCENDING), ("sync_type", ASCENDING), ("status", ASCENDING)]),
    ],
}


class Database:
    def __init__(self, db: MongoDatabase[dict[str, Any]]) -> None:
        self.db = db
        self.chat = ChatStore(db.chat_sessions, db.chat_messages)
        self.subscriptions = SubscriptionStore(db.webhook_subscriptions)
        self.deliveries = DeliveryStore(db.webhook_deliveries)
        self.events = EventStore(db.events)
        self.syncs = SyncStore(db.semantic_layer_syncs)

    def ensure_indexes(self) -> None:
        """Create the indexes if missing; idempotent, so every process may run it at start.

        One index per command: FerretDB 1.24 drops the connection when one ``createIndexes`` names
        several indexes that already exist.
        """
        for collection, indexes in INDEXES.items():
            for index in indexes:
                self.db[collection].create_indexes([index])
