"""The per-process clients the routes use, created on first use so no fork ever inherits one.

The server shares the workers' :class:`Services` (the same stores and destination policy) with short
timeouts: an API call must fail fast with a 503 when a dependency is down, never hang.
"""

from functools import cached_property

import redis
from flask import current_app

from config import Settings
from fraiday_cli.connections import MONGO_SOCKET_TIMEOUT_MS, MONGO_TIMEOUT_MS, server_redis_client
from fraiday_cli.tasks.client import TaskClient
from handlers.registry import Registry
from handlers.services import Services

EXTENSION_KEY = "fraiday"


class ServerResources:
    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.services = Services(
            settings,
            appname="fraiday-server",
            mongo_timeout_ms=MONGO_TIMEOUT_MS,
            mongo_socket_timeout_ms=MONGO_SOCKET_TIMEOUT_MS,
        )

    @cached_property
    def redis(self) -> redis.Redis:
        return server_redis_client(self.settings)

    @cached_property
    def tasks(self) -> TaskClient:
        return TaskClient(self.redis, self.registry)


def resources() -> ServerResources:
    found: ServerResources = current_app.extensions[EXTENSION_KEY]
    return found
