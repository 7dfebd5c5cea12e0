"""The Asynq bridge: tasks the Go service left in Redis in, fraiday jobs out, nothing lost or run twice.

Asynq keeps a queue's waiting tasks as ids: the list ``asynq:{<q>}:pending`` and the sorted sets
``asynq:{<q>}:scheduled`` and ``asynq:{<q>}:retry`` (scored by the Unix time they are due), each id's
task in the hash ``asynq:{<q>}:t:<id>``. One Lua script moves one id from there to a processing list
(with where it came from and when it is due) before the task is read; the id leaves that list, with the
task's hash and its uniqueness lock, only once its fraiday job is enqueued or it is dead-lettered. A
bridge killed at any point leaves the id in the processing list, which the next start handles again; the
Asynq task id is the job id, so a task handled twice is enqueued once.

Every key a script touches shares the queue's ``{<q>}`` hash tag, like Asynq's own, so the scripts also
run on a Redis Cluster.
"""

import base64
import hashlib
import json
import logging
import threading
from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

import redis
from prometheus_client import Counter

from fraiday_cli.asynq_bridge.payloads import TypeNames, payload_of
from fraiday_cli.asynq_bridge.task_message import BadTask, decode
from fraiday_cli.reconnect import Backoff
from fraiday_cli.tasks.client import TASK_ID_PATTERN, TaskClient
from handlers.errors import PermanentError
from handlers.wire_format import ASYNQ_ID_META, ASYNQ_RETRIED_META, ASYNQ_TYPE_META

log = logging.getLogger("fraiday.asynq_bridge")
ASYNQ_BRIDGE_TASKS = Counter(
    "fraiday_asynq_bridge_tasks",
    "Asynq tasks of the Go service by queue, source (pending, scheduled, retry) and outcome: enqueued,"
    " duplicate, dead_letter.",
    ["queue", "source", "outcome"],
)

DEAD_LETTERS = "fraiday:asynq-bridge:dead"
DeadLetterKey = tuple[str, str, str | None]
"""A dead letter's queue, Asynq id and TaskMessage (base64): the same three are the same task."""
SOURCES = ("pending", "scheduled", "retry")

# KEYS: pending, scheduled, retry, processing. Oldest pending first (Asynq pushes on the left and its
# workers pop on the right), then the earliest scheduled and retry tasks.
_TAKE = """
local id = redis.call('RPOP', KEYS[1])
if id then
  local entry = cjson.encode({id = id, source = 'pending'})
  redis.call('LPUSH', KEYS[4], entry)
  return entry
end
local sources = {'scheduled', 'retry'}
for index = 2, 3 do
  local first = redis.call('ZRANGE', KEYS[index], 0, 0, 'WITHSCORES')
  if first[1] then
    redis.call('ZREM', KEYS[index], first[1])
    local entry = cjson.encode({id = first[1], source = sources[index - 1], due = tonumber(first[2])})
    redis.call('LPUSH', KEYS[4], entry)
    return entry
  end
end
return false
"""

# KEYS: processing, the task's hash, then its uniqueness lock if it has one. ARGV: entry, task id.
# The lock is released only if it is still this task's, as Asynq does when a task completes.
_SETTLE = """
if KEYS[3] and redis.call('GET', KEYS[3]) == ARGV[2] then
  redis.call('DEL', KEYS[3])
end
redis.call('DEL', KEYS[2])
return redis.call('LREM', KEYS[1], 1, ARGV[1])
"""


def queue_key(queue: str, name: str) -> str:
    return f"asynq:{{{queue}}}:{name}"


def task_key(queue: str, task_id: str) -> str:
    return queue_key(queue, f"t:{task_id}")


def processing_key(queue: str) -> str:
    return queue_key(queue, "fraiday-bridge:processing")


def job_id_for(asynq_id: str) -> str:
    """The Asynq id itself (a UUID unless the producer chose one); a stable digest if RQ cannot take it."""
    if TASK_ID_PATTERN.fullmatch(asynq_id):
        return asynq_id
    return "asynq-" + hashlib.sha256(asynq_id.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Taken:
    """An entry of the processing list: which task, from where, due when (Unix seconds)."""

    raw: bytes | str
    id: str
    source: str
    due: float | None

    @classmethod
    def parse(cls, raw: bytes | str) -> "Taken":
        entry = json.loads(raw)
        return cls(raw, str(entry["id"]), str(entry["source"]), entry.get("due"))

    def run_at(self, now: datetime) -> datetime | None:
        if self.due is None:
            return None
        due = datetime.fromtimestamp(self.due, UTC)
        return due if due > now else None


class FraidayRedisError(Exception):
    """fraiday's Redis failed while the Asynq one answered: the outage line must name fraiday's address."""

    def __init__(self, error: redis.RedisError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Outcome:
    outcome: Literal["enqueued", "duplicate", "dead_letter"]
    task_id: str | None = None
    reason: str | None = None


class AsynqBridge:
    def __init__(
        self,
        broker: redis.Redis,
        client: TaskClient,
        types: TypeNames,
        queues: Sequence[str],
        idle_wait_seconds: float = 1.0,
    ) -> None:
        self.broker = broker
        self.client = client
        self.types = types
        self.queues = list(queues)
        self.idle_wait = idle_wait_seconds
        self._take = broker.register_script(_TAKE)
        self._settle_script = broker.register_script(_SETTLE)

    def run(self, stop: threading.Event) -> None:
        """Recover, then bridge until ``stop``; after a Redis error, recover again what it interrupted."""
        recovered = announced = False
        # ASYNQ_REDIS_URL may be another Redis than fraiday's: each outage line names the one that failed.
        asynq_backoff = Backoff(log, self.broker)
        fraiday_backoff = Backoff(log, self.client.connection)
        while not stop.is_set():
            try:
                if not recovered:
                    self.recover()
                    recovered = True
                if not announced:
                    types = self.types.table()
                    log.info("bridging Asynq queues %s", ", ".join(self.queues), extra={"types": types})
                    announced = True
                if not self.step():
                    stop.wait(self.idle_wait)
            except redis.RedisError as error:
                recovered = False
                stop.wait(asynq_backoff.failed(error))
                continue
            except FraidayRedisError as failure:
                recovered = False
                stop.wait(fraiday_backoff.failed(failure.error))
                continue
            asynq_backoff.succeeded()
            fraiday_backoff.succeeded()

    def recover(self) -> int:
        """Handle what a previous bridge left mid-way: the task-id dedup makes a second enqueue harmless,
        and a dead letter it had already written is not written again (restored by hand, a second entry
        would run the task twice)."""
        handled = 0
        written = self._dead_letters_written()
        for queue in self.queues:
            for raw in cast(list[bytes], self.broker.lrange(processing_key(queue), 0, -1)):
                self._settle(queue, Taken.parse(raw), written)
                handled += 1
        if handled:
            log.info("recovered %d Asynq task(s) left in processing by a previous bridge", handled)
        return handled

    def step(self) -> int:
        """Move and handle at most one task per queue; return how many were handled."""
        handled = 0
        for queue in self.queues:
            keys = [queue_key(queue, source) for source in SOURCES] + [processing_key(queue)]
            raw = self._take(keys=keys)
            if raw:
                self._settle(queue, Taken.parse(raw))
                handled += 1
        return handled

    def _dead_letters_written(self) -> set[DeadLetterKey]:
        written = set()
        for raw in cast(list[bytes], self.broker.lrange(DEAD_LETTERS, 0, -1)):
            try:
                entry = json.loads(raw)
                written.add((entry["queue"], entry["id"], entry["msg"]))
            except (ValueError, KeyError, TypeError):
                continue  # not the bridge's entry (written by hand): it cannot be one of ours
        return written

    def _settle(self, queue: str, taken: Taken, written: Set[DeadLetterKey] = frozenset()) -> Outcome:
        msg, unique_key = cast(list[Any], self.broker.hmget(task_key(queue, taken.id), ["msg", "unique_key"]))
        outcome = self.handle(queue, taken, msg.encode() if isinstance(msg, str) else msg, written)
        ASYNQ_BRIDGE_TASKS.labels(queue, taken.source, outcome.outcome).inc()
        keys = [processing_key(queue), task_key(queue, taken.id)]
        if unique_key:
            keys.append(unique_key.decode() if isinstance(unique_key, bytes) else str(unique_key))
        self._settle_script(keys=keys, args=[taken.raw, taken.id])
        return outcome

    def handle(
        self, queue: str, taken: Taken, msg: bytes | None, written: Set[DeadLetterKey] = frozenset()
    ) -> Outcome:
        try:
            if msg is None:
                raise BadTask(f"the task hash {task_key(queue, taken.id)} has no msg")
            task = decode(msg)
            if task.id != taken.id:
                raise BadTask(f"the TaskMessage's id {task.id!r} is not its key's {taken.id!r}")
            spec = self.types.spec_for(task.type)
            try:
                enqueued = self.client.enqueue(
                    spec.name,
                    payload_of(task, spec),
                    task_id=job_id_for(task.id),
                    run_at=taken.run_at(datetime.now(UTC)),
                    meta={
                        ASYNQ_ID_META: task.id,
                        ASYNQ_TYPE_META: task.type,
                        ASYNQ_RETRIED_META: task.retried,
                    },
                )
            except redis.RedisError as error:
                raise FraidayRedisError(error) from error
        except (BadTask, PermanentError) as error:
            return self._dead_letter(queue, taken, msg, str(error), written)
        log.info(
            "asynq %s %s (%s) -> %s",
            task.type,
            task.id,
            taken.source,
            spec.name,
            extra={
                "task_id": enqueued.task_id,
                "duplicate": enqueued.duplicate,
                "asynq_id": task.id,
                "source": taken.source,
                "due": taken.due,
            },
        )
        return Outcome("duplicate" if enqueued.duplicate else "enqueued", enqueued.task_id)

    def _dead_letter(
        self, queue: str, taken: Taken, msg: bytes | None, reason: str, written: Set[DeadLetterKey]
    ) -> Outcome:
        """Keep the task (never run) with why; ``msg`` is the TaskMessage, base64, to restore it by hand."""
        encoded = base64.b64encode(msg).decode() if msg is not None else None
        entry: dict[str, Any] = {
            "queue": queue,
            "id": taken.id,
            "source": taken.source,
            "due": taken.due,
            "reason": reason,
            "at": datetime.now(UTC).isoformat(),
            "msg": encoded,
        }
        if (queue, taken.id, encoded) not in written:
            self.broker.rpush(DEAD_LETTERS, json.dumps(entry))
        log.warning(
            "Asynq task %s dead-lettered from %s: %s",
            taken.id,
            queue,
            reason,
            extra={"asynq_id": taken.id, "queue": queue, "source": taken.source, "reason": reason},
        )
        return Outcome("dead_letter", reason=reason)
