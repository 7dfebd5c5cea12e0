"""The registry and services a worker slot's jobs run with, bound once when the slot starts.

RQ calls a job function by its import path with only the job's JSON arguments, so the dispatcher cannot
be handed its dependencies per call; the slot binds them here instead, explicitly, at start. Services are
rebuilt when the process id changes, so a fork never reuses its parent's clients. A slot's job threads
share its runtime; its services are built once, under a lock.
"""

import os
import threading
from dataclasses import dataclass, field

from config import Settings
from handlers.registry import Registry
from handlers.services import Services


@dataclass
class Runtime:
    registry: Registry
    settings: Settings
    threads: int = 1
    _services: Services | None = field(default=None, repr=False)
    _pid: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def services(self) -> Services:
        with self._lock:
            if self._services is None or self._pid != os.getpid():
                self._services = Services(self.settings, http_pool_size=max(10, self.threads))
                self._pid = os.getpid()
            return self._services


_bound: Runtime | None = None


def bind(registry: Registry, settings: Settings, threads: int = 1) -> Runtime:
    global _bound  # noqa: PLW0603 - one runtime per process is the point
    _bound = Runtime(registry, settings, threads)
    return _bound


def current() -> Runtime:
    if _bound is None:
        raise RuntimeError("no task runtime is bound in this process; start it with `fraiday worker`")
    return _bound
