"""The one place a MongoClient is built, for the server and the workers alike."""

from typing import Any

import pymongo

from config import Settings
from handlers.services.mongo_metrics import CommandTimer


def mongo_client(
    settings: Settings, *, appname: str, timeout_ms: int, socket_timeout_ms: int | None = None
) -> pymongo.MongoClient[dict[str, Any]]:
    """A lazy client (``connect=False``): nothing happens until first use, in the process that uses it.

    ``socket_timeout_ms`` bounds each operation (None: no bound, for workers whose tasks have their own
    timeout)."""
    return pymongo.MongoClient(
        settings.mongodb_uri.get_secret_value(),
        tz_aware=True,
        connect=False,
        appname=appname,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=socket_timeout_ms,
        event_listeners=[CommandTimer()],
    )
