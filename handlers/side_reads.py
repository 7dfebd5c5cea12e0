"""MongoDB reads a job needs later, started now on a thread of the job's own to overlap a slower call.

A chat job waits about 200 ms (or seconds) on the AI service and then about 2 ms per MongoDB round trip
after it; a read that does not depend on the AI's answer (the webhook subscriptions) can be made during
that wait instead, and the session context during the message's claim. Each job gets its own executor
of one thread, made on first use in the process and thread running the job (never before a slot's fork)
and shut down when the job ends, however it ends: after a job timeout (SIGALRM in a one-thread slot, an
asynchronous exception in a job thread) a read already running finishes and the thread exits; reads not
yet started are dropped. Nothing interrupts the side thread, so each read has its own bound
(:data:`SIDE_READ_TIMEOUT_SECONDS`, pymongo's client-side timeout): a hung database cannot keep it.

A side read that failed (or ran out of time) is made again, in place, when its result is taken: the job
then reads at the point the sequential code did and ends as that code did (the read succeeds, or its
error fails the attempt and the task's retry policy brings it back).
"""

import contextvars
import functools
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Generic, ParamSpec, TypeVar

import pymongo

from handlers.services.mongo_metrics import SIDE_READ

log = logging.getLogger("fraiday.task")

P = ParamSpec("P")
T = TypeVar("T")

THREAD_NAME = "fraiday-side-read"
SIDE_READ_TIMEOUT_SECONDS = 10.0
"""A side read's bound; a read that long is made again where it is needed, under the job's timeout."""


class SideRead(Generic[T]):
    """One read under way; :meth:`result` waits for it, or reads again if it failed."""

    def __init__(self, future: "Future[T]", read: Callable[[], T]) -> None:
        self._future = future
        self._read = read

    def result(self) -> T:
        # exception() waits without catching anything raised in this thread meanwhile (a job timeout).
        error = self._future.exception()
        if error is None:
            return self._future.result()
        return self._read()


def _bounded(read: Callable[[], T], what: str) -> T:
    """Run in the side thread, in a copy of the job's context: its commands are counted as ``what``'s."""
    SIDE_READ.set(what)
    try:
        with pymongo.timeout(SIDE_READ_TIMEOUT_SECONDS):
            return read()
    except Exception as error:
        log.warning("side read %s failed (%s); the job reads it again when it needs it", what, error)
        raise


class SideReads:
    """A job's side reads, one at a time, in order, on one thread; a context manager for the job."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None

    def start(self, what: str, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> SideRead[T]:
        """Start ``read(*args, **kwargs)``, named ``what`` in its metric (its commands' time,
        ``fraiday_side_read_duration_seconds``) and log lines; it runs in a copy of the job's context
        (its log fields and trace span), so its log lines and spans are the job's."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        call = functools.partial(read, *args, **kwargs)
        future = self._executor.submit(contextvars.copy_context().run, _bounded, call, what)
        return SideRead(future, call)

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
