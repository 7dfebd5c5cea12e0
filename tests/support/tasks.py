"""A registry of probe task types for testing the worker machinery apart from the real handlers.

Each handler records what it did in Redis (the side effects the tests count), so "processed exactly
once" is checked against real effects rather than RQ's own bookkeeping.
"""

import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import redis

from handlers.payloads import Payload
from handlers.registry import Registry, TaskContext, TaskSpec
from handlers.retry import RetryPolicy
from handlers.services import Services

EFFECTS = "test:effects"
ATTEMPTS = "test:attempts:"
STARTED = "test:started:"
THREADS = "test:threads:"


class CountPayload(Payload):
    key: str


class SleepPayload(Payload):
    key: str
    seconds: float


class FlakyPayload(Payload):
    key: str
    failures: int


class MongoPayload(Payload):
    key: str


def _redis(services: Services) -> redis.Redis:
    return redis.Redis.from_url(services.settings.redis_url)


def count(payload: CountPayload, services: Services, task: TaskContext) -> None:
    _redis(services).hincrby(EFFECTS, payload.key, 1)


def sleep(payload: SleepPayload, services: Services, task: TaskContext) -> None:
    conn = _redis(services)
    conn.rpush(STARTED + payload.key, f"{os.getpid()}:{time.time()}")
    time.sleep(payload.seconds)
    conn.hincrby(EFFECTS, payload.key, 1)


def nap(payload: SleepPayload, services: Services, task: TaskContext) -> None:
    """Sleeps in short naps: a timeout raised in a job thread lands between two of them."""
    conn = _redis(services)
    conn.rpush(STARTED + payload.key, f"{os.getpid()}:{time.time()}")
    until = time.monotonic() + payload.seconds
    while time.monotonic() < until:
        time.sleep(0.05)
    conn.hincrby(EFFECTS, payload.key, 1)


def ai_sync(payload: CountPayload, services: Services, task: TaskContext) -> None:
    """One call to the AI service (a loopback stub in tests), through the slot's shared client."""
    conn = _redis(services)
    conn.rpush(STARTED + payload.key, f"{os.getpid()}:{time.time()}")
    conn.rpush(THREADS + payload.key, threading.current_thread().name)
    services.ai.sync(payload.key, "full")
    conn.hincrby(EFFECTS, payload.key, 1)


def exit_thread(payload: CountPayload, services: Services, task: TaskContext) -> None:
    """What ends a thread in Python: SystemExit raised in it."""
    _redis(services).rpush(STARTED + payload.key, f"{os.getpid()}:{time.time()}")
    raise SystemExit(3)


def flaky(payload: FlakyPayload, services: Services, task: TaskContext) -> None:
    conn = _redis(services)
    conn.rpush(ATTEMPTS + payload.key, f"{task.attempt}:{time.time()}")
    if task.attempt <= payload.failures:
        raise RuntimeError(f"planned failure {task.attempt}")
    conn.hincrby(EFFECTS, payload.key, 1)


def mongo_write(payload: MongoPayload, services: Services, task: TaskContext) -> Mapping[str, Any]:
    db = services.mongo[services.settings.mongodb_database]
    db.probe.insert_one({"key": payload.key, "pid": os.getpid(), "task_id": task.task_id})
    return {"pid": os.getpid()}


def stores(payload: CountPayload, services: Services, task: TaskContext) -> None:
    """Reaches the database stores, as every chat job does first: their indexes are ensured once."""
    _redis(services).rpush(STARTED + payload.key, f"{os.getpid()}:{time.time()}")
    services.db  # noqa: B018 - built on first use
    _redis(services).hincrby(EFFECTS, payload.key, 1)


def _spec(
    name: str,
    queue: str,
    model: type[Payload],
    handler: Any,
    attempts: int = 3,
    timeout: int = 30,
    backoff: float = 1.0,
    **extra: Any,
) -> TaskSpec:
    return TaskSpec(
        name=name,
        queue=queue,
        payload_model=model,
        handler=handler,
        retry=RetryPolicy(max_attempts=attempts, backoff_seconds=backoff, jitter=0.0),
        timeout_seconds=timeout,
        **extra,
    )


REGISTRY = Registry([
    _spec("test:count", "events", CountPayload, count),
    _spec("test:count_chat", "chat_workflow", CountPayload, count),
    _spec("test:count_sync", "semantic_layer", CountPayload, count),
    _spec("test:sleep", "events", SleepPayload, sleep, attempts=3, timeout=30),
    _spec("test:sleep_long", "events", SleepPayload, sleep, attempts=1, timeout=600),
    # semantic_layer:sync's retry policy: 3 attempts, 30 s backoff.
    _spec("test:sleep_sync", "semantic_layer", SleepPayload, sleep, attempts=3, timeout=60, backoff=30.0),
    # Shorter than a frozen slot's pause, longer than a run: times out only in an attempt that was frozen.
    _spec("test:sleep_timeout", "events", SleepPayload, sleep, attempts=3, timeout=5),
    _spec("test:slow_timeout", "events", SleepPayload, sleep, attempts=2, timeout=1),
    _spec("test:nap_timeout", "events", SleepPayload, nap, attempts=2, timeout=1),
    _spec("test:ai", "events", CountPayload, ai_sync, attempts=3),
    _spec("test:exit", "events", CountPayload, exit_thread, attempts=1),
    _spec("test:flaky", "events", FlakyPayload, flaky, attempts=3),
    _spec("test:flaky_sync", "semantic_layer", FlakyPayload, flaky, attempts=3),
    _spec("test:unique", "semantic_layer", SleepPayload, sleep, unique_fields=("key",)),
    _spec("test:mongo", "events", MongoPayload, mongo_write),
    _spec("test:stores", "events", CountPayload, stores, attempts=1),
    _spec("test:mongo_timeout", "events", MongoPayload, mongo_write, attempts=1, timeout=2),
])  # fmt: skip
