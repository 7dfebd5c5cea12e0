"""Scenario 6: one chat job's database work as the collections grow (1,000 to 50,000 documents each).

A job's queries must be index lookups, so their cost stays flat however much is stored; with FerretDB
on SQLite it grew from 0.7 s to 39 s over this range, which is why the harness runs FerretDB on
PostgreSQL. The work is the chat workflow's own store calls, in its order, on a fresh message each time.
"""

import time
from typing import Any

import pymongo
from bson import ObjectId

from bench.common import Stack
from handlers.services.database import Database
from handlers.services.database.chat import MessageKind, MessageStatus
from handlers.services.database.webhooks import DeliveryStatus

CLIENT = "acme"


def _fill(database: Database, target: int) -> None:
    """Unrelated sessions, messages, subscriptions and deliveries up to ``target`` documents each."""
    db = database.db
    for name in ("chat_sessions", "chat_messages", "webhook_subscriptions", "webhook_deliveries"):
        have = db[name].estimated_document_count()
        for start in range(have, target, 1000):
            db[name].insert_many(
                [
                    {
                        "client_id": f"other-{i % 200}",
                        "session_id": ObjectId(),
                        "kind": MessageKind.MESSAGE.value,
                        "key": f"filler:{i}",
                        "source": f"filler:{i}",
                        "event_types": ["chat.response"],
                        "active": True,
                    }
                    for i in range(start, min(start + 1000, target))
                ]
            )


def _one_chat_job(database: Database, session: dict[str, Any], subscription: dict[str, Any]) -> float:
    chat = database.chat
    message = chat.add_user_message(session, "Where is my order?", suggestion_mode=False)
    started = time.perf_counter()
    stored = chat.claim_pending(str(message["_id"]), str(session["_id"]), task_id="bench", attempts=1)
    assert stored is not None
    chat.session_context(stored, 20)
    _, stored_now = chat.save_assistant(stored, MessageKind.REPLY, "It ships today.", [])
    assert stored_now
    chat.set_status(stored["_id"], MessageStatus.COMPLETED)
    for match in database.subscriptions.matching(CLIENT, "chat.response"):
        source = f"reply:{stored['_id']}"
        database.deliveries.record_first_attempt(
            source, match, "chat.response", DeliveryStatus.DELIVERED, 200, None, 1.0
        )
    return time.perf_counter() - started


def run(
    stack: Stack, sizes: tuple[int, ...] = (1_000, 10_000, 50_000), jobs: int = 20
) -> list[dict[str, Any]]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        stack.mongodb_uri + "_scaling", tz_aware=True
    )
    try:
        client.drop_database(client.get_default_database().name)
        database = Database(client.get_default_database())
        database.ensure_indexes()
        session = database.chat.create_session(CLIENT, {})
        subscription = database.subscriptions.create(CLIENT, "https://hooks.example/x", ["chat.response"])
        results = []
        for size in sizes:
            _fill(database, size)
            for _ in range(5):  # warm-up: the first queries after a bulk load also pay for its statistics
                _one_chat_job(database, session, subscription)
            timings = sorted(_one_chat_job(database, session, subscription) for _ in range(jobs))
            results.append(
                {
                    "documents_per_collection": size,
                    "median_ms": round(timings[len(timings) // 2] * 1000, 1),
                    "worst_ms": round(timings[-1] * 1000, 1),
                }
            )
        return results
    finally:
        client.close()
