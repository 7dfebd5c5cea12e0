"""MongoDB reads a job needs later, started now on a thread of the job's own to overlap a slower call.

A chat job waits about 200 ms (or seconds) on the AI service and then about 2 ms per MongoDB round trip
after it; a read that does not depend on the AI's answer (the webhook subscriptions) can be made during
that wait instead, and the session context during the message's claim. Each job gets its own thread,
started on first use in the process and thread running the job (never before a slot's fork) and told to
exit when the job ends, however it ends: after a job timeout (SIGALRM in a one-thread slot, an
asynchronous exception in a job thread) a read already running finishes and the thread exits; reads not
yet started are dropped. Nothing interrupts the side thread, so each read has its own bound
(:data:`SIDE_READ_TIMEOUT_SECONDS`, pymongo's client-side timeout): a hung database cannot keep it. The
thread is a daemon, like a slot's job threads: a stopping worker does not wait for a read nobody needs.
(A bare thread rather than a ``ThreadPoolExecutor``, whose threads are joined at exit; making and
shutting one down per job also cost more CPU: about 0.19 ms against 0.11-0.16 ms for two reads.)

A side read that failed (or ran out of time) is made again, in place, when its result is taken: the job
then reads at the point the sequential code did and ends as that code did (the read succeeds, or its
error fails the attempt and the task's retry policy brings it back).
"""

import contextvars
import functools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from queue import SimpleQueue
from types import TracebackType
from typing import Any, Generic, ParamSpec, TypeVar

import pymongo

from handlers.services.mongo_metrics import SIDE_READ

log = logging.getLogger("fraiday.task")

P = ParamSpec("P")
T = TypeVar("T")

THREAD_NAME = "fraiday-side-read"
SIDE_READ_TIMEOUT_SECONDS = 10.0
"""A side read's bound; a read that long is made again where it is needed, under the job's timeout."""
WAIT_SLICE_SECONDS = 0.5
"""How long a job waits on a side read in one C call: an asynchronous exception (a job thread's timeout
or the grace period's interrupt) lands only between two, as in pymongo's own waits, which poll as often."""


class SideRead(Generic[T]):
    """One read under way; :meth:`result` waits for it, or reads again if it failed."""

    def __init__(self, future: "Future[T]", read: Callable[[], T]) -> None:
        self._future = future
        self._read = read
        self._done: SimpleQueue[None] = SimpleQueue()
        future.add_done_callback(lambda _: self._done.put(None))

    def result(self) -> T:
        # Waits in slices (WAIT_SLICE_SECONDS) on a queue, whose wait is one C call, so a job timeout lands
        # in this loop rather than inside the Future's own locking, shared with the side thread.
        while not self._future.done():
            try:
                self._done.get(timeout=WAIT_SLICE_SECONDS)
            except queue.Empty:
                continue
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
        self._reads: SimpleQueue[_Read | None] | None = None
        self._closed = threading.Event()

    def start(self, what: str, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> SideRead[T]:
        """Start ``read(*args, **kwargs)``, named ``what`` in its metric (its commands' time,
        ``fraiday_side_read_duration_seconds``) and log lines; it runs in a copy of the job's context
        (its log fields and trace span), so its log lines and spans are the job's."""
        call = functools.partial(read, *args, **kwargs)
        future: Future[T] = Future()
        if self._reads is None:
            self._reads = SimpleQueue()
            thread = threading.Thread(
                target=_serve, args=(self._reads, self._closed), name=THREAD_NAME, daemon=True
            )
            thread.start()
        self._reads.put(_Read(future, contextvars.copy_context(), call, what))
        return SideRead(future, call)

    def close(self) -> None:
        """Drop the reads not started; the one running, if any, ends on its own and its thread exits."""
        self._closed.set()
        if self._reads is not None:
            self._reads.put(None)

    def __enter__(self) -> "SideReads":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class _Read:
    future: "Future[Any]"
    context: contextvars.Context
    call: Callable[[], Any]
    what: str


def _serve(reads: "SimpleQueue[_Read | None]", closed: threading.Event) -> None:
    """The side thread: each read in turn until the job closes its side reads."""
    while (read := reads.get()) is not None:
        if closed.is_set():
            read.future.cancel()
        if not read.future.set_running_or_notify_cancel():
            continue
        try:
            read.future.set_result(read.context.run(_bounded, read.call, read.what))
        except BaseException as error:  # handed to the job, which reads again (see SideRead.result)
            read.future.set_exception(error)
