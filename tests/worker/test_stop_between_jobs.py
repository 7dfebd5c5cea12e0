"""A stop from the pool (SIGTERM or SIGINT) that lands while a slot writes a failed attempt's outcome.

A slot marks itself idle in the outcome's own step, before that step is sent, and RQ raised a stop at once
in a worker that is not busy: in a failure's bookkeeping, which swallowed it, and the slot waited out its
dequeue until the pool killed it (seen once in the full suite, in
test_chat_without_an_ai_service_warns_once_at_start_and_fails_in_one_line). The success's case is in
test_next_job.py. The slot is driven in this process, on real Redis, and the signal is sent to it right
after it marks itself idle, where it lands at the next bytecode.
"""

import logging
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from config import Settings
from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.worker.slot import SlotWorker
from handlers.runtime import Runtime
from handlers.wire_format import ATTEMPTS_META, SERIALIZER
from tests.support.tasks import ATTEMPTS, REGISTRY
from tests.worker.test_next_job import slot


@pytest.fixture(autouse=True)
def runtime(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The slot runs its jobs here and installs its stop handlers here: they are put back after."""
    monkeypatch.setattr("handlers.runtime._bound", Runtime(REGISTRY, settings))
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in handlers.items():
        signal.signal(number, handler)


def stopped_as_it_goes_idle(worker: SlotWorker) -> None:
    """Send the slot SIGTERM just after its outcome's step marks it idle, before the step is sent."""
    mark_idle = worker.cleanup_execution

    def then_stop(job: Any, pipeline: Any) -> None:
        mark_idle(job, pipeline)
        os.kill(os.getpid(), signal.SIGTERM)

    worker.cleanup_execution = then_stop  # type: ignore[method-assign]


def test_a_stop_landing_in_a_failure_lets_its_retry_be_scheduled_and_the_slot_stop(
    redis_conn: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    task = TaskClient(redis_conn, REGISTRY).enqueue("test:flaky", {"key": "flaky", "failures": 1})
    worker = slot(redis_conn)
    stopped_as_it_goes_idle(worker)
    with caplog.at_level(logging.ERROR, logger="rq.worker"):
        worker.work(burst=True)
    assert "exception during pipeline execute" not in caplog.text
    assert redis_conn.llen(ATTEMPTS + "flaky") == 1
    assert redis_conn.zrange("rq:scheduled:events", 0, -1) == [task.task_id.encode()], (
        "its retry is due later"
    )
    job = redis_conn.hgetall(f"rq:job:{task.task_id}")
    assert job[b"status"] == b"scheduled"
    assert SERIALIZER.loads(job[b"meta"])[ATTEMPTS_META] == 1
