"""The registry and services a worker slot's jobs run with, bound once when the slot starts.

RQ calls a job function by its import path with only the job's JSON arguments, so the dispatcher cannot
be handed its dependencies per call; the slot binds them here instead, explicitly, at start. Services are
rebuilt when the process id changes, so a fork never reuses its parent's clients.
"""

import os
from dataclasses import dataclass, field

from config import Settings
from handlers.registry import Registry
from handlers.services import Services


@dataclass
class Runtime:
    registry: Registry
    settings: Settings
    _services: Services | None = field(default=None, repr=False)
    _pid: int = field(default=0, repr=False)

    @property
    def services(self) -> Services:
        if self._services is None or self._pid != os.getpid():
            self._services = Services(self.settings)
            self._pid = os.getpid()
        return self._services


_bound: Runtime | None = None


def bind(registry: Registry, settings: Settings) -> Runtime:
    global _bound  # noqa: PLW0603 - one runtime per process is the point
    _bound = Runtime(registry, settings)
    return _bound


def current() -> Runtime:
    if _bound is None:
        raise RuntimeError("no task runtime is bound in this process; start it with `fraiday worker`")
    return _bound
