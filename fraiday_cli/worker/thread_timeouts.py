"""Stopping a job that runs in a thread other than the main one: its timeout, and the shutdown interrupt.

SIGALRM (RQ's default, and a slot's with one thread) only ever interrupts the main thread, so a job in a
slot's job thread is stopped another way: an exception is raised in that thread with CPython's
``PyThreadState_SetAsyncExc``, as RQ's own ``TimerDeathPenalty`` does. Unlike RQ's, the exception can only
be raised while the thread is inside ``job.perform()``: the span is entered and left under a lock, and a
pending exception not yet delivered when the job returns is withdrawn, so it never lands in the job's
bookkeeping (RQ's timer can fire just after the job ends and break the thread's next Redis write).

The limit, said in the README: an asynchronous exception is delivered when the thread next runs Python
code, so a job blocked in one long C call (a socket read without a timeout, ``time.sleep``) is stopped
when that call returns. Every client fraiday's handlers use has its own timeout, which bounds the delay.
"""

import ctypes
import functools
import threading
from types import TracebackType
from typing import Any, ClassVar, Literal

from rq.timeouts import BaseDeathPenalty, JobTimeoutException


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    """Make ``thread_id`` raise ``exception`` at its next Python instruction (None: withdraw it)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception is not None else None
    )


class ThreadDeathPenalty(BaseDeathPenalty):
    """The span of one ``job.perform()`` in a job thread, which a timer or the shutdown may end."""

    _running: ClassVar[dict[int, "ThreadDeathPenalty"]] = {}
    _registry_lock: ClassVar[threading.RLock] = threading.RLock()
    _closing: ClassVar[type[BaseException] | None] = None
    """Set by :meth:`strike_all`: a job entering its span afterwards is struck at once."""

    def __init__(self, timeout: int, exception: type[BaseException] = JobTimeoutException, **kwargs: Any):
        super().__init__(timeout, exception, **kwargs)
        # Re-entrant: a signal handler may strike while the main thread is striking.
        self._lock = threading.RLock()
        self._owner = 0
        self._thread_id: int | None = None
        self._struck: type[BaseException] | None = None
        self._timer: threading.Timer | None = None

    def setup_death_penalty(self) -> None:
        self._owner = threading.get_ident()
        with self._lock:
            self._thread_id = self._owner
            self._struck = None
        try:
            with self._registry_lock:
                ThreadDeathPenalty._running[self._owner] = self
            if ThreadDeathPenalty._closing is not None:
                self.strike(ThreadDeathPenalty._closing)
            if self._timeout > 0:
                exception = self._exception
                if exception is JobTimeoutException:
                    exception = _timeout_exception(self._timeout)
                self._timer = threading.Timer(self._timeout, self.strike, args=(exception,))
                self._timer.daemon = True
                self._timer.start()
        except BaseException:
            self._leave()  # struck while entering: the exception fails the job, the span is closed
            raise

    def cancel_death_penalty(self) -> None:
        """Close the span. At most one exception is ever raised per span, so if it lands in here the
        second ``_leave`` runs undisturbed."""
        try:
            if self._timer is not None:
                self._timer.cancel()
            self._leave()
        except BaseException:
            self._leave()
            raise

    def _leave(self) -> None:
        with self._lock:
            thread_id, self._thread_id = self._thread_id, None
            if thread_id is not None and self._struck is not None:
                _raise_in(thread_id, None)  # not delivered yet: the job has ended, its outcome stands
        with self._registry_lock:
            if ThreadDeathPenalty._running.get(self._owner) is self:
                del ThreadDeathPenalty._running[self._owner]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        """RQ's swallows a timeout raised while cancelling; here one that lands then fails the job, as
        it reached its timeout."""
        self.cancel_death_penalty()
        return False

    def strike(self, exception: type[BaseException]) -> bool:
        """Raise ``exception`` in the job's thread if it is still inside the job; once per job."""
        with self._lock:
            if self._thread_id is None or self._struck is not None:
                return False
            self._struck = exception
            _raise_in(self._thread_id, exception)
            return True

    @classmethod
    def strike_all(cls, exception: type[BaseException]) -> int:
        """Raise ``exception`` in every thread running a job, and in any that starts one from now on;
        returns how many were running one."""
        with cls._registry_lock:
            ThreadDeathPenalty._closing = exception
            running = list(cls._running.values())
        return sum(penalty.strike(exception) for penalty in running)


@functools.cache
def _timeout_exception(timeout: int) -> type[JobTimeoutException]:
    """A class carrying its message: only a class crosses threads, instantiated without arguments."""
    message = f"Task exceeded maximum timeout value ({timeout} seconds)"

    class JobTimeout(JobTimeoutException):
        def __init__(self, *args: Any) -> None:
            super().__init__(message)

    return JobTimeout
