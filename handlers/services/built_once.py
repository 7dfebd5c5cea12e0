"""``functools.cached_property`` with the per-attribute lock Python 3.12 took out of it.

A slot's job threads share one :class:`~handlers.services.Services`: two of them reaching a client first
at the same time would otherwise each build one, and the loser's MongoClient (its pool and monitor
threads) or HTTP pool would be left running, unreferenced.

A build that fails is tried again by the next caller, but the callers that were waiting for it share its
failure when it is one of ``shared_failures``: with MongoDB down, a hundred job threads waiting for the
stores would otherwise each take the lock and wait out a server selection in turn (5 s each, the last
job failing after 500 s, far past its timeout, which cannot stop a thread waiting on a lock). An
interruption of the building job (its timeout, the shutdown) is never shared: it is that job's alone.
"""

import copy
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class built_once(Generic[T]):  # noqa: N801 - used as a decorator, named like cached_property
    def __init__(self, build: Callable[[Any], T], shared_failures: tuple[type[Exception], ...] = ()) -> None:
        self.build = build
        self.shared_failures = shared_failures
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
        failed = f"{self.name} failed"
        if self.name not in built:
            known = built.get(failed)
            with self._lock:
                if self.name not in built:
                    failure = built.get(failed)
                    if failure is not None and failure is not known:
                        raise copy.copy(failure)  # the build this caller waited for: its own traceback
                    try:
                        built[self.name] = self.build(instance)
                    except self.shared_failures as error:
                        built[failed] = error
                        raise
                    built.pop(failed, None)
        value: T = built[self.name]
        return value


def built_once_sharing(*failures: type[Exception]) -> Callable[[Callable[[Any], T]], built_once[T]]:
    """``@built_once_sharing(PyMongoError)``: the callers waiting for a build that fails so share it."""
    return lambda build: built_once(build, failures)
