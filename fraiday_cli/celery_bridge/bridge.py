"""The Celery bridge: legacy Celery task messages in, fraiday jobs out, nothing lost or run twice.

Each message is moved atomically (``LMOVE``) from Celery's queue list to a processing list before it is
read, and removed from there only once its job is enqueued or it is dead-lettered. A bridge killed at
any point leaves the message in the processing list, which the next bridge start handles again; the
Celery task id is the job id, so a message handled twice is enqueued once.
"""

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

import redis
from prometheus_client import Counter

from fraiday_cli.celery_bridge.messages import BadMessage, parse
from fraiday_cli.celery_bridge.payloads import payload_of
from fraiday_cli.reconnect import Backoff
from fraiday_cli.tasks.client import TASK_ID_PATTERN, TaskClient
from handlers.errors import PermanentError
from handlers.wire_format import CELERY_TASK_META

log = logging.getLogger("fraiday.celery_bridge")
CELERY_BRIDGE_MESSAGES = Counter(
    "fraiday_celery_bridge_messages",
    "Legacy Celery messages by outcome: enqueued, duplicate, dead_letter.",
    ["queue", "outcome"],
)

PROCESSING_PREFIX = "fraiday:celery-bridge:processing:"
DEAD_LETTERS = "fraiday:celery-bridge:dead"
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
"""kombu's Redis transport keeps priority 0 in ``<queue>`` and the others in ``<queue>\\x06\\x16<step>``."""


Raw = bytes | str
"""A message as redis-py returns it (bytes, unless the client decodes responses)."""


def celery_lists(queue: str) -> list[str]:
    return [queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS]


@dataclass(frozen=True)
class Outcome:
    outcome: Literal["enqueued", "duplicate", "dead_letter"]
    task_id: str | None = None
    reason: str | None = None


class CeleryBridge:
    def __init__(
        self, broker: redis.Redis, client: TaskClient, queues: Sequence[str], idle_wait_seconds: int = 1
    ) -> None:
        self.broker = broker
        self.client = client
        self.queues = list(queues)
        self.idle_wait = idle_wait_seconds

    def run(self, stop: threading.Event) -> None:
        recovered = False
        backoff = Backoff(log, self.broker)
        while not stop.is_set():
            try:
                if not recovered:
                    self.recover()
                    recovered = True
                if not self.step():
                    self._wait()
            except redis.RedisError as error:
                stop.wait(backoff.failed(error))
                continue
            backoff.succeeded()

    def recover(self) -> int:
        """Handle what a previous bridge left mid-way (the task-id dedup makes a second pass harmless)."""
        handled = 0
        for queue in self.queues:
            for raw in cast(list[bytes], self.broker.lrange(PROCESSING_PREFIX + queue, 0, -1)):
                self._settle(queue, raw)
                handled += 1
        if handled:
            log.info("recovered %d message(s) left in processing by a previous bridge", handled)
        return handled

    def step(self) -> int:
        """Move and handle at most one message per queue; return how many were handled."""
        handled = 0
        for queue in self.queues:
            for source in celery_lists(queue):
                raw = cast(
                    bytes | None, self.broker.lmove(source, PROCESSING_PREFIX + queue, "RIGHT", "LEFT")
                )
                if raw is not None:
                    self._settle(queue, raw)
                    handled += 1
                    break
        return handled

    def _wait(self) -> None:
        raw = cast(
            bytes | None,
            self.broker.blmove(
                self.queues[0], PROCESSING_PREFIX + self.queues[0], self.idle_wait, "RIGHT", "LEFT"
            ),
        )
        if raw is not None:
            self._settle(self.queues[0], raw)

    def _settle(self, queue: str, raw: Raw) -> Outcome:
        outcome = self.handle(queue, raw)
        CELERY_BRIDGE_MESSAGES.labels(queue, outcome.outcome).inc()
        self.broker.lrem(PROCESSING_PREFIX + queue, 1, raw)  # type: ignore[arg-type]  # bytes work too
        return outcome

    def handle(self, queue: str, raw: Raw) -> Outcome:
        try:
            task = parse(raw)
            spec = self.client.registry.by_legacy_name(task.name)
            if task.expires is not None and task.expires <= datetime.now(UTC):
                raise BadMessage(f"expired at {task.expires.isoformat()}")
            task_id = task.task_id if TASK_ID_PATTERN.fullmatch(task.task_id) else None
            if task_id is None:
                raise BadMessage(f"task id {task.task_id!r} is not usable as a job id")
            enqueued = self.client.enqueue(
                spec.name,
                payload_of(task, spec),
                task_id=task_id,
                run_at=task.eta,
                meta={CELERY_TASK_META: task.name},
            )
        except (BadMessage, PermanentError) as error:
            return self._dead_letter(queue, raw, str(error))
        log.info(
            "celery %s %s -> %s",
            task.name,
            task.task_id,
            spec.name,
            extra={"task_id": enqueued.task_id, "duplicate": enqueued.duplicate},
        )
        return Outcome("duplicate" if enqueued.duplicate else "enqueued", enqueued.task_id)

    def _dead_letter(self, queue: str, raw: Raw, reason: str) -> Outcome:
        """Keep the message (never executed, never unpickled) with why, for an operator to look at."""
        entry: dict[str, Any] = {
            "queue": queue,
            "reason": reason,
            "at": datetime.now(UTC).isoformat(),
            "message": raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw,
        }
        self.broker.rpush(DEAD_LETTERS, json.dumps(entry))
        log.warning("celery message dead-lettered from %s: %s", queue, reason)
        return Outcome("dead_letter", reason=reason)
