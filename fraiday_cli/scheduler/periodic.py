"""Turning cron entries into tasks, with at most one scheduler enqueueing at a time.

Not ``rq cron``: RQ 2.12's ``CronJob`` enqueues with pickle whatever serializer is configured, and our
workers (rightly) refuse pickled jobs. Tasks go through the :class:`TaskClient` like any other, so they
are validated, JSON, and unique where their type says so.

Two guards keep a tick from running twice. Leadership is a Redis lock with a short TTL, renewed every
poll: a standby takes over within one TTL of the leader dying. And each tick's task id is derived from
the entry and the tick time (``periodic-<name>-<unix time>``), so even two schedulers that both believe
they lead (a lock expiring under a stalled leader) enqueue the same id, which RQ accepts once.
"""

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import cast

import redis
from croniter import croniter
from redis.exceptions import LockError

from config.periodic import PeriodicTask
from fraiday_cli.reconnect import Backoff
from fraiday_cli.tasks.client import Enqueued, TaskClient
from handlers.wire_format import PERIODIC_META

log = logging.getLogger("fraiday.scheduler")

LOCK_KEY = "fraiday:scheduler:leader"
LAST_TICK_KEY = "fraiday:scheduler:last_tick"
POLL_SECONDS = 1.0


def latest_tick(cron: str, now: float) -> float:
    """The most recent time at or before ``now`` that ``cron`` names."""
    return float(croniter(cron, datetime.fromtimestamp(now, UTC)).get_prev(float))


def tick_task_id(task: PeriodicTask, tick: float) -> str:
    return f"periodic-{task.name}-{int(tick)}"


class PeriodicScheduler:
    def __init__(
        self,
        connection: redis.Redis,
        client: TaskClient,
        tasks: Sequence[PeriodicTask],
        *,
        lock_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connection = connection
        self.client = client
        self.tasks = list(tasks)
        self.clock = clock
        self._lock = connection.lock(LOCK_KEY, timeout=lock_seconds, blocking=False, thread_local=False)
        self._leading = False

    def run(self, stop: threading.Event) -> None:
        backoff = Backoff(log, self.connection)
        try:
            while not stop.is_set():
                try:
                    self.step()
                except redis.RedisError as error:
                    stop.wait(backoff.failed(error))
                    continue
                backoff.succeeded()
                stop.wait(POLL_SECONDS)
        finally:
            self.resign()

    def step(self) -> list[Enqueued]:
        """Hold or seek leadership; as leader, enqueue every entry whose tick has come."""
        if not self._hold_leadership():
            return []
        now = self.clock()
        return [enqueued for task in self.tasks if (enqueued := self._fire_if_due(task, now)) is not None]

    def _hold_leadership(self) -> bool:
        was_leading = self._leading
        try:
            self._leading = self._lock.reacquire() if was_leading else self._lock.acquire()
        except LockError:
            self._leading = False
        if self._leading != was_leading:
            log.info("scheduler is now %s", "the leader" if self._leading else "a standby")
        return self._leading

    def _fire_if_due(self, task: PeriodicTask, now: float) -> Enqueued | None:
        """Enqueue the entry's latest tick if it is newer than the last one fired.

        An entry seen for the first time starts from its next tick (a new daily job does not fire at
        deploy time); after an outage only the latest missed tick runs, once, not one per missed tick.
        """
        tick = latest_tick(task.cron, now)
        last = _stored_tick(cast(bytes | None, self.connection.hget(LAST_TICK_KEY, task.name)))
        if last is not None and tick <= last:
            return None
        enqueued = None
        if last is not None:
            enqueued = self.client.enqueue(
                task.task_type,
                task.payload,
                task_id=tick_task_id(task, tick),
                meta={PERIODIC_META: task.name},
            )
            log.info(
                "periodic task %s enqueued for %s",
                task.name,
                datetime.fromtimestamp(tick, UTC).isoformat(),
                extra={"task_id": enqueued.task_id, "duplicate": enqueued.duplicate},
            )
        self.connection.hset(LAST_TICK_KEY, task.name, str(tick))
        return enqueued

    def resign(self) -> None:
        """Give the lock up on a clean stop so a standby takes over at once, not after the TTL."""
        if self._leading:
            with contextlib.suppress(LockError, redis.RedisError):
                self._lock.release()
            self._leading = False


def _stored_tick(raw: bytes | str | None) -> float | None:
    """The last tick fired, or None (a first sighting) for one never stored or not a finite number:
    whoever writes to Redis can write anything there, and ``inf`` would stop the entry for good."""
    try:
        tick = float(raw) if raw is not None else None
    except ValueError:
        return None
    return tick if tick is not None and math.isfinite(tick) else None
