"""The per-process clients the routes use, created on first use so no fork ever inherits one."""

from functools import cached_property
from typing import Any

import pymongo
import redis
from flask import current_app

from config import Settings
from fraiday_cli.connections import MONGO_TIMEOUT_MS, redis_client
from handlers.services.mongo import mongo_client

EXTENSION_KEY = "fraiday"


class ServerResources:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def redis(self) -> redis.Redis:
        return redis_client(self.settings)

    @cached_property
    def mongo(self) -> pymongo.MongoClient[dict[str, Any]]:
        return mongo_client(self.settings, appname="fraiday-server", timeout_ms=MONGO_TIMEOUT_MS)


def resources() -> ServerResources:
    found: ServerResources = current_app.extensions[EXTENSION_KEY]
    return found
