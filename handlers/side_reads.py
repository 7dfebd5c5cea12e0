"""Reads a job needs later, started now on a thread of the job's own so they overlap a slower call.

A chat job waits about 200 ms (or seconds) on the AI service and then about 2 ms per MongoDB round trip
after it; a read that does not depend on the AI's answer (the webhook subscriptions) can be made during
that wait instead, and the session context during the message's claim. Each job gets its own executor
of one thread, made on first use in the process and thread running the job (never before a slot's fork)
and shut down when the job ends, however it ends: a job that times out (SIGALRM in a one-thread slot,
an asynchronous exception in a job thread) leaves a read already running to finish within pymongo's own
timeouts, after which the thread exits; reads not yet started are dropped.

A side read that failed is made again, in place, when its result is taken: the job then reads at the
point the sequential code did and ends as that code did (the read succeeds, or its error fails the
attempt and the task's retry policy brings it back).
"""

import contextvars
import functools
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Generic, ParamSpec, TypeVar

log = logging.getLogger("fraiday.task")

P = ParamSpec("P")
T = TypeVar("T")

THREAD_NAME = "fraiday-side-read"


class SideRead(Generic[T]):
    """One read under way; :meth:`result` waits for it, or reads again if it failed."""

    def __init__(self, future: "Future[T]", read: Callable[[], T], what: str) -> None:
        self._future = future
        self._read = read
        self._what = what

    def result(self) -> T:
        # exception() waits without catching anything raised in this thread meanwhile (a job timeout).
        error = self._future.exception()
        if error is None:
            return self._future.result()
        log.warning("%s failed during the job (%s); reading it again now", self._what, error)
        return self._read()


class SideReads:
    """A job's side reads, one at a time, in order, on one thread; a context manager for the job."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None

    def start(self, what: str, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> SideRead[T]:
        """Start ``read(*args, **kwargs)``; it runs in a copy of the job's context (its log fields and
        trace span), so its log lines and MongoDB spans are the job's."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        call = functools.partial(read, *args, **kwargs)
        future = self._executor.submit(contextvars.copy_context().run, call)
        return SideRead(future, call, what)

    def close(self) -> None:
        """Drop the reads not started; the one running, if any, ends on its own and its thread exits."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> "SideReads":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
