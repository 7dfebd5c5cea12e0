"""The dependencies handlers receive: one :class:`Services` per process, each client built on first use.

The clients are safe to share between a slot's job threads: pymongo's client and redis-py's are
thread-safe, a requests session is when its pool holds a connection per thread (``http_pool_size``), and
each is built once under a lock (:mod:`handlers.services.built_once`).

Clients are created inside the process that uses them, never at import and never before a fork, because
pymongo's MongoClient (its pool and monitor threads) and requests' pools must not cross a fork.
"""

from typing import Any

import pymongo

from config import Settings
from config.redaction import Redactor
from handlers.services.ai_client import AIClient
from handlers.services.built_once import built_once, built_once_sharing
from handlers.services.database import Database
from handlers.services.destinations import DestinationPolicy
from handlers.services.http import pooled_session
from handlers.services.mongo import mongo_client
from handlers.services.pinning import PinnedAdapter
from handlers.services.webhooks import WebhookSender


class Services:
    def __init__(
        self,
        settings: Settings,
        appname: str = "fraiday-worker",
        mongo_timeout_ms: int = 5000,
        mongo_socket_timeout_ms: int | None = None,
        http_pool_size: int = 10,
    ) -> None:
        self.settings = settings
        self.appname = appname
        self.mongo_timeout_ms = mongo_timeout_ms
        self.mongo_socket_timeout_ms = mongo_socket_timeout_ms
        self.http_pool_size = http_pool_size
        """Connections kept per HTTP host: at least the threads that may call it at once."""

    @built_once
    def mongo(self) -> pymongo.MongoClient[dict[str, Any]]:
        return mongo_client(
            self.settings,
            appname=self.appname,
            timeout_ms=self.mongo_timeout_ms,
            socket_timeout_ms=self.mongo_socket_timeout_ms,
        )

    @built_once_sharing(pymongo.errors.PyMongoError)
    def db(self) -> Database:
        """The stores, with their indexes ensured once per process (a failure is retried on next use)."""
        database = Database(self.mongo[self.settings.mongodb_database])
        database.ensure_indexes()
        return database

    @built_once
    def redactor(self) -> Redactor:
        """For every error text a handler records (a message's error, a delivery's)."""
        return Redactor(self.settings.secret_values())

    @built_once
    def ai(self) -> AIClient:
        token = self.settings.slack_ai_token
        return AIClient(
            self.settings.ai_service_url,
            token.get_secret_value() if token else None,
            chat_path=self.settings.ai_chat_path,
            sync_path=self.settings.ai_sync_path,
            read_timeout_seconds=self.settings.ai_timeout_seconds,
            session=pooled_session(self.http_pool_size),
        )

    @built_once
    def destinations(self) -> DestinationPolicy:
        return DestinationPolicy(self.settings.webhook_allowlist)

    @built_once
    def webhooks(self) -> WebhookSender:
        return WebhookSender(
            self.destinations,
            self.settings.webhook_timeout_seconds,
            session=pooled_session(self.http_pool_size, adapter_class=PinnedAdapter),
        )

    def close(self) -> None:
        for name in ("ai", "webhooks"):
            if name in self.__dict__:
                self.__dict__[name].session.close()
        if "mongo" in self.__dict__:
            self.mongo.close()
