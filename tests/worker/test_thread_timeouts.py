"""Stopping a job in a thread other than the main one: only ever inside the job, never after it."""

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from rq.timeouts import JobTimeoutException

from fraiday_cli.worker.thread_timeouts import ThreadDeathPenalty


class Stop(Exception):
    pass


@pytest.fixture(autouse=True)
def not_closing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``strike_all`` marks the process as closing for good; each test starts before that."""
    monkeypatch.setattr(ThreadDeathPenalty, "_closing", None)
    yield


def in_thread(body: Callable[[], None]) -> list[BaseException]:
    """Run ``body`` in a thread; what escaped it."""
    escaped: list[BaseException] = []

    def run() -> None:
        try:
            body()
        except BaseException as error:
            escaped.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    return escaped


def spin(seconds: float) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        pass


def test_a_job_past_its_timeout_is_stopped_in_its_own_thread_with_rqs_message() -> None:
    started = time.monotonic()

    def job() -> None:
        with ThreadDeathPenalty(1, JobTimeoutException):
            spin(10)

    escaped = in_thread(job)
    assert len(escaped) == 1 and isinstance(escaped[0], JobTimeoutException)
    assert str(escaped[0]) == "Task exceeded maximum timeout value (1 seconds)"
    assert 0.9 < time.monotonic() - started < 3


def test_a_strike_after_the_job_ended_does_nothing() -> None:
    penalty = ThreadDeathPenalty(0)
    left = threading.Event()
    struck = threading.Event()

    def job() -> None:
        with penalty:
            pass
        left.set()
        struck.wait(10)
        spin(0.2)  # Python code, where a stray exception would land

    def strike_after_the_end() -> None:
        left.wait(10)
        assert penalty.strike(Stop) is False
        struck.set()

    striker = threading.Thread(target=strike_after_the_end)
    striker.start()
    assert in_thread(job) == []
    striker.join()


def test_strikes_at_any_moment_land_inside_the_job_or_not_at_all() -> None:
    """Thousands of jobs, each struck at a random point (or just after it ended): an exception may only
    come out of the ``with`` block, never from the thread's own code after it."""
    rounds, caught = 3000, []
    done = threading.Event()

    def jobs() -> None:
        for _ in range(rounds):
            try:
                with ThreadDeathPenalty(0):
                    spin(0.0001)
            except Stop:
                caught.append(1)
            for _ in range(50):  # the job's bookkeeping: nothing may land here
                pass
        done.set()

    def striker() -> None:
        while not done.is_set():
            for penalty in list(ThreadDeathPenalty._running.values()):
                penalty.strike(Stop)

    thread = threading.Thread(target=striker, daemon=True)
    thread.start()
    assert in_thread(jobs) == []
    thread.join(10)
    assert caught  # the striker did land some


def test_strike_all_stops_every_running_job_and_any_starting_after_it() -> None:
    entered = threading.Barrier(3)

    def job() -> None:
        with ThreadDeathPenalty(0):
            entered.wait(10)
            spin(10)

    results: list[list[BaseException]] = []
    threads = [threading.Thread(target=lambda: results.append(in_thread(job))) for _ in range(2)]
    for thread in threads:
        thread.start()
    entered.wait(10)
    assert ThreadDeathPenalty.strike_all(Stop) == 2
    for thread in threads:
        thread.join(10)
    assert [type(escaped[0]) for escaped in results] == [Stop, Stop]

    def late_job() -> None:
        with ThreadDeathPenalty(0):
            spin(10)

    late = in_thread(late_job)
    assert len(late) == 1 and isinstance(late[0], Stop)
