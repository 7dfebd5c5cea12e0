"""Every query the stores send is served by an index, asked of the server itself with ``explain``.

The queries are not listed here: a command listener records what the stores really send while they do
a chat message, a webhook delivery, an event and a sync, so a new query without an index fails this test.
Each collection holds enough unrelated documents first that PostgreSQL (under FerretDB) would rather
scan than use an index it cannot use; real MongoDB answers with its own plan format.
"""

from collections.abc import Iterator
from typing import Any

import pymongo
import pytest
from bson import ObjectId
from pymongo import monitoring

from handlers.services.database import INDEXES, Database
from handlers.services.database.chat import MessageKind, MessageStatus
from handlers.services.database.documents import utcnow
from handlers.services.database.webhooks import DeliveryStatus

FILLER_PER_COLLECTION = 3000
FILTER_OF = {"find": "filter", "findAndModify": "query", "delete": "deletes", "update": "updates"}


class QueryRecorder(monitoring.CommandListener):
    def __init__(self) -> None:
        self.queries: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        name = event.command_name
        if name == "find" or name == "findAndModify":
            key = FILTER_OF[name]
            self.queries.append((command[name], dict(command.get(key, {})), command.get("sort")))
        elif name in ("update", "delete"):
            for statement in command.get(FILTER_OF[name], []):
                self.queries.append((command[name], dict(statement["q"]), None))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def recorded(mongodb_uri: str) -> Iterator[tuple[pymongo.MongoClient[dict[str, Any]], QueryRecorder]]:
    recorder = QueryRecorder()
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        mongodb_uri, tz_aware=True, event_listeners=[recorder]
    )
    yield client, recorder
    client.close()


def fill(db: Any) -> None:
    """Unrelated documents in every collection, with the indexed fields set to other values."""
    for collection in INDEXES:
        db[collection].insert_many(
            [
                {
                    "client_id": f"other-{i % 50}",
                    "session_id": ObjectId(),
                    "reply_key": f"filler:{i}",
                    "key": f"filler:{i}",
                    "source": f"filler:{i % 500}",
                    "event_id": f"filler-{i}",
                    "task_id": f"filler-{i}",
                    "sync_type": "full",
                    "status": "done",
                    "active": True,
                }
                for i in range(FILLER_PER_COLLECTION)
            ]
        )


def exercise(database: Database) -> None:
    """One of each thing the workflows and the API do to the database."""
    chat = database.chat
    session = chat.create_session("acme", {"channel": "web"})
    assert chat.get_session(session["_id"]) is not None
    message = chat.add_user_message(session, "hello", suggestion_mode=False)
    chat.get_message(message["_id"])
    chat.set_status(message["_id"], MessageStatus.PROCESSING)
    chat.session_context(message, 20)
    chat.find_assistant(message["_id"], MessageKind.REPLY)
    chat.save_assistant(message, MessageKind.REPLY, "hi", [])
    chat.save_assistant(message, MessageKind.REPLY, "hi", [])  # the retried task's path
    chat.list_messages(session["_id"], 20)
    chat.list_messages(session["_id"], 20, after=message["_id"])

    subscription = database.subscriptions.create("acme", "https://hooks.example/x", ["chat.response"])
    database.subscriptions.for_client("acme")
    database.subscriptions.get("acme", str(subscription["_id"]))
    database.subscriptions.matching("acme", "chat.response")
    record = database.deliveries.open("chat:1", subscription, "chat.response")
    database.deliveries.open("chat:1", subscription, "chat.response")
    database.deliveries.record_attempt(record, DeliveryStatus.DELIVERED, 200, None, 3.0)
    delivered = (DeliveryStatus.DELIVERED, 200, None, 3.0)
    database.deliveries.record_first_attempt("chat:2", subscription, "chat.response", *delivered)
    database.deliveries.record_first_attempt("chat:1", subscription, "chat.response", *delivered)  # raced
    database.deliveries.for_source("chat:1")
    database.subscriptions.deactivate(subscription["_id"], "gone")
    database.subscriptions.delete("acme", str(subscription["_id"]))

    event = {"event_id": "evt-1", "client_id": "acme", "event_type": "order.created", "payload": {}}
    database.events.record(event, "event-task-1")
    database.events.record(event, "event-task-1")
    database.events.get("evt-1")
    database.events.set_status("evt-1", "processed")

    sync = database.syncs.start("sync-1", "acme", "full")
    database.syncs.running_elsewhere("sync-1", "acme", "full", utcnow())
    database.syncs.set_waiting("sync-1", "retry")
    database.syncs.finish(sync, "completed", result={"ok": True})
    database.syncs.get("sync-1")


def plan_nodes(plan: Any) -> Iterator[dict[str, Any]]:
    """Every node of an explain plan, whichever server's format it is in."""
    if isinstance(plan, dict):
        yield plan
        for value in plan.values():
            yield from plan_nodes(value)
    elif isinstance(plan, list):
        for item in plan:
            yield from plan_nodes(item)


def scans_or_sorts(explained: dict[str, Any]) -> bool:
    """A collection scan on either server, or (MongoDB) a sort in memory that an index could have served.

    FerretDB always sorts in memory, after its index scan, so only MongoDB's plan can show the sort."""
    nodes = list(plan_nodes(explained.get("queryPlanner", explained)))
    return any(
        node.get("stage") in ("COLLSCAN", "SORT") or node.get("Node Type") == "Seq Scan" for node in nodes
    )


def test_every_store_query_is_served_by_an_index(
    recorded: tuple[pymongo.MongoClient[dict[str, Any]], QueryRecorder],
) -> None:
    client, recorder = recorded
    db = client.get_default_database()
    fill(db)
    database = Database(db)
    database.ensure_indexes()
    recorder.queries.clear()

    exercise(database)

    assert len(recorder.queries) >= 20, recorder.queries
    unindexed = []
    for collection, query, sort in recorder.queries:
        find: dict[str, Any] = {"find": collection, "filter": query}
        if sort:
            find["sort"] = sort
        explained = db.command({"explain": find, "verbosity": "queryPlanner"})
        if scans_or_sorts(explained):
            unindexed.append((collection, query, sort))
    assert unindexed == []
