"""The dependencies handlers receive: one :class:`Services` per process, built lazily.

Clients are created on first use inside the process that uses them, never at import and never before a
fork, because pymongo's MongoClient (its pool and monitor threads) must not cross a fork.
"""

from functools import cached_property
from typing import Any

import pymongo

from config import Settings
from handlers.services.mongo import mongo_client


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def mongo(self) -> pymongo.MongoClient[dict[str, Any]]:
        return mongo_client(self.settings, appname="fraiday-worker", timeout_ms=5000)

    def close(self) -> None:
        if "mongo" in self.__dict__:
            self.mongo.close()
