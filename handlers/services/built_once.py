"""``functools.cached_property`` with the per-attribute lock Python 3.12 took out of it.

A slot's job threads share one :class:`~handlers.services.Services`: two of them reaching a client first
at the same time would otherwise each build one, and the loser's MongoClient (its pool and monitor
threads) or HTTP pool would be left running, unreferenced.
"""

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class built_once(Generic[T]):  # noqa: N801 - used as a decorator, named like cached_property
    def __init__(self, build: Callable[[Any], T]) -> None:
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__
        # Re-entrant, as 3.11's was: the server's gevent greenlets share one thread and a lock made before
        # gevent patches threading; one waiting on a plain lock its neighbour holds would block them all.
        self._lock = threading.RLock()

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> "built_once[T]": ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> "T | built_once[T]":
        if instance is None:
            return self
        built = instance.__dict__
        if self.name not in built:
            with self._lock:
                if self.name not in built:
                    built[self.name] = self.build(instance)
        value: T = built[self.name]
        return value
