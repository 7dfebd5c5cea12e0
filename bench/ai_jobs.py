"""The job of the threads benchmark: one AI call through the slot's shared client, then one INCR.

Its own small module, so the worker it runs in imports no more than a real worker does (the scenario's
driver, ``bench.threads``, imports the HTTP stub and the harness).
"""

import functools
import os

import redis

from handlers.payloads import Payload
from handlers.registry import Registry, TaskContext, TaskSpec
from handlers.retry import RetryPolicy
from handlers.services import Services

COUNTER = "bench:ai:done"
QUEUE = "bench_ai"


@functools.cache
def _client(pid: int) -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"])


class AskPayload(Payload):
    n: int


def ask(payload: AskPayload, services: Services, task: TaskContext) -> None:
    services.ai.reply(f"session-{payload.n}", f"message-{payload.n}", "hello", [])
    _client(os.getpid()).incr(COUNTER)


REGISTRY = Registry(
    [
        TaskSpec(
            name="bench:ai",
            queue=QUEUE,
            payload_model=AskPayload,
            handler=ask,
            retry=RetryPolicy(max_attempts=1, backoff_seconds=1.0),
            timeout_seconds=60,
        )
    ]
)
