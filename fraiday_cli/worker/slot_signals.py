"""How a slot process stops: the signals it holds, takes and sends itself, and the interrupt of a job.

A slot is stopped by its pool (SIGINT or SIGTERM, then ``INTERRUPT_SIGNAL`` when the grace period is
over), by the kernel when the pool dies (``stop_with_the_pool``), and its job by RQ's SIGALRM timeout,
whose span also bounds where a shutdown interrupt may land (``InterruptibleDeathPenalty``).
"""

import ctypes
import os
import signal
import sys

from rq.timeouts import UnixSignalDeathPenalty

INTERRUPT_SIGNAL = signal.SIGUSR1
"""Sent by the pool when the grace period is over: stop the running job and put it back on its queue."""


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def hold_stop_signals() -> None:
    """Keep a stop that reaches a starting slot pending until its worker loop can take it.

    The pool stops its slots with SIGINT. One arriving while a slot still sets up (binding the handler
    runtime, building its worker) raised KeyboardInterrupt there, a traceback for every slot of a worker
    stopped right after it started; RQ's handlers, once installed, raise StopRequested, which RQ catches
    only inside its loop. :meth:`SlotWorker.dequeue_job_and_maintain_ttl` releases the signals there.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


PR_SET_PDEATHSIG = 1


def stop_with_the_pool() -> None:
    """Have the kernel send this slot SIGTERM when its pool dies, so it finishes its job and exits.

    A pool killed on its own (SIGKILL of its pid only, outside a container that would take every process
    with it) used to leave its slots running without a parent: they kept taking jobs, unsupervised and
    unstoppable by the worker's own signals, next to the fresh worker started to replace them.
    """
    if not sys.platform.startswith("linux"):
        return
    pool = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != pool:  # the pool died before the kernel was told
        os.kill(os.getpid(), signal.SIGTERM)


class ShutdownInterrupt(Exception):
    """The grace period ended while a job ran; the job is requeued without using up an attempt."""

    def __init__(self, message: str = "grace period over: job interrupted and requeued") -> None:
        super().__init__(message)  # a job thread's copy is raised as the bare class


class InterruptibleDeathPenalty(UnixSignalDeathPenalty):
    """RQ's SIGALRM timeout, which also marks the span in which a shutdown interrupt may stop the job.

    RQ wraps exactly ``job.perform()`` in the death penalty, so an interrupt raised inside this span lands
    in the job and never in RQ's own bookkeeping.
    """

    active = False

    def setup_death_penalty(self) -> None:
        InterruptibleDeathPenalty.active = True
        super().setup_death_penalty()

    def cancel_death_penalty(self) -> None:
        super().cancel_death_penalty()
        InterruptibleDeathPenalty.active = False
