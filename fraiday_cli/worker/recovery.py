"""Putting the jobs of dead slots back on their queues, at once and atomically.

Two ways a job can be left behind by a process that died:

- **Lease expired**: the job is in its queue's started registry (``rq:wip:<queue>``) but its slot stopped
  renewing the lease (:mod:`fraiday_cli.worker.lease`). RQ's own cleanup would send it through retry
  scheduling (a backoff, then a scheduler that may be waiting on a dead scheduler's lock); here it goes
  straight back to the front of its queue, using up one attempt so a job that kills its slot every time
  still ends in the dead-letter registry. Out of attempts, it is failed with that reason, unloaded.
- **Orphaned in the dequeue window**: the slot popped the id (BLPOP, or BLMOVE into RQ's intermediate
  list) and died or lost its connection before the job reached the started registry. The job hash then
  says ``queued`` (or ``started``) and is in no list and no registry. A scan (at most one per
  ``interval`` across all pools) finds such jobs; one still orphaned at a later scan, at least half an
  interval after it was first seen, is requeued (a healthy slot crosses the window in milliseconds). It
  has not run, so no attempt is used; one that is not a fraiday job is failed unrun instead. "Still"
  means in the same state: its status and ``enqueued_at`` unchanged since the first sighting. A job seen
  in one dequeue (or between reads of a scan) and met again later in another dequeue is not stuck, and
  requeueing it would run it twice.

Each requeue is one Lua script that re-checks the job's state, so concurrent sweepers on many pools, a
slot finishing the job meanwhile, or a sweeper killed halfway never lose or duplicate a queue entry.
"""

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

import redis
from rq.registry import StartedJobRegistry

from fraiday_cli.tasks.dead_letters import dead_letter
from fraiday_cli.tasks.task_queue import queue_for
from handlers.metrics import POISON_JOBS
from handlers.wire_format import JOB_KEY_PREFIX, SERIALIZER, read_poison_reason

log = logging.getLogger("fraiday.worker")

EXECUTION_KEY = "rq:execution:{entry}"
ORPHAN_SUSPECTS_KEY = "fraiday:orphan-suspects"
"""Job id -> when a scan first saw it orphaned; shared, since consecutive scans may run on other pools."""
ORPHAN_SCAN_LOCK_KEY = "fraiday:orphan-scan"
EXHAUSTED = "its worker stopped renewing the lease (the process died) and no attempts were left"
SCAN_BATCH = 1000

REQUEUE_EXPIRED = """
-- KEYS: started registry, job hash, queue list, intermediate list, execution hash
-- ARGV: registry entry, now, job id, enqueued_at
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return 0 end
local status = redis.call('HGET', KEYS[2], 'status')
if status ~= 'started' and status ~= 'queued' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return -1
end
local retries = tonumber(redis.call('HGET', KEYS[2], 'retries_left') or '0') or 0
if retries < 1 then return 2 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[5])
redis.call('LREM', KEYS[4], 0, ARGV[3])
redis.call('HSET', KEYS[2], 'status', 'queued', 'retries_left', tostring(retries - 1), 'enqueued_at', ARGV[4])
redis.call('LPUSH', KEYS[3], ARGV[3])
return 1
"""

REQUEUE_ORPHAN = """
-- KEYS: job hash, queue list, intermediate list, started registry
-- ARGV: job id, enqueued_at, the status (queued or started) and enqueued_at it was first seen orphaned with
local state = redis.call('HMGET', KEYS[1], 'status', 'enqueued_at')
if state[1] ~= ARGV[3] or (state[2] or '') ~= ARGV[4] then return 0 end
if redis.call('LPOS', KEYS[2], ARGV[1]) then return 0 end
local prefix = ARGV[1] .. ':'
for _, entry in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  if string.sub(entry, 1, #prefix) == prefix then return 0 end
end
redis.call('LREM', KEYS[3], 0, ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'queued', 'enqueued_at', ARGV[2])
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1
"""


def _rq_timestamp() -> str:
    """RQ's own format for ``enqueued_at``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value  # a key written by hand


def requeue_expired(connection: redis.Redis, queue: str) -> list[str]:
    """Requeue every job of ``queue`` whose lease has expired; returns their ids."""
    rq_queue = queue_for(queue, connection)
    registry = StartedJobRegistry(queue, connection=connection, serializer=SERIALIZER)
    now = time.time()
    script = connection.register_script(REQUEUE_EXPIRED)
    requeued: list[str] = []
    for raw in cast(list[bytes], connection.zrangebyscore(registry.key, 0, now)):
        entry = _text(raw)
        job_id = entry.split(":", 1)[0]
        keys = [
            registry.key,
            JOB_KEY_PREFIX + job_id,
            rq_queue.key,
            rq_queue.intermediate_queue_key,
            EXECUTION_KEY.format(entry=entry),
        ]
        outcome = script(keys=keys, args=[entry, now, job_id, _rq_timestamp()])
        if outcome == 1:
            requeued.append(job_id)
            log.warning("job %s lost its slot (lease expired): back on %s", job_id, queue)
        if outcome == 2:
            _fail_exhausted(connection, registry.key, entry, queue, job_id)
    return requeued


def _fail_exhausted(connection: redis.Redis, registry_key: str, entry: str, queue: str, job_id: str) -> None:
    """Dead-letter a job out of attempts without loading it: RQ's own cleanup would load the hash (one
    RQ cannot parse crashed maintenance on every tick) and call whatever failure callback it names."""
    with connection.pipeline() as pipeline:
        pipeline.zrem(registry_key, entry)
        pipeline.delete(EXECUTION_KEY.format(entry=entry))
        dead_letter(connection, pipeline, queue, job_id, EXHAUSTED)
        pipeline.execute()
    log.warning("job %s lost its slot (lease expired) with no attempts left: failed", job_id)


class Orphan(NamedTuple):
    origin: str
    state: str
    """``status|enqueued_at``: what a later sighting must still read for the job to be stuck."""


class OrphanSweep:
    """Finds jobs lost in the dequeue window; requeues those still orphaned, unchanged, at a later scan."""

    def __init__(
        self, connection: redis.Redis, interval_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.connection = connection
        self.interval = interval_seconds
        self.clock = clock
        self._requeue = connection.register_script(REQUEUE_ORPHAN)

    def run(self) -> list[str]:
        """One scan, at most once per ``interval`` across every pool sharing this Redis."""
        if not self.connection.set(ORPHAN_SCAN_LOCK_KEY, "1", nx=True, ex=self.interval):
            return []
        orphans = self.find()
        now = self.clock()
        sightings = cast(dict[bytes, bytes], self.connection.hgetall(ORPHAN_SUSPECTS_KEY))
        suspects = {_text(k): _sighting(v) for k, v in sightings.items()}
        requeued: list[str] = []
        with self.connection.pipeline(transaction=False) as pipeline:
            for job_id in set(suspects) - set(orphans):
                pipeline.hdel(ORPHAN_SUSPECTS_KEY, job_id)
            for job_id, orphan in orphans.items():
                seen = suspects.get(job_id)
                if seen is None or seen[1] != orphan.state:
                    pipeline.hset(ORPHAN_SUSPECTS_KEY, job_id, f"{now}|{orphan.state}")
                elif now - seen[0] >= self.interval / 2:
                    if self._requeue_orphan(job_id, orphan):
                        requeued.append(job_id)
                    pipeline.hdel(ORPHAN_SUSPECTS_KEY, job_id)
            pipeline.execute()
        return requeued

    def find(self) -> dict[str, Orphan]:
        """Every job that says it is queued or started yet is in no list or registry."""
        candidates: dict[str, dict[str, str]] = {}
        for batch in _batches(self._job_keys(), SCAN_BATCH):
            with self.connection.pipeline(transaction=False) as pipeline:
                for key in batch:
                    pipeline.hmget(key, ["status", "origin", "enqueued_at"])
                rows = pipeline.execute()
            for key, (status, origin, enqueued_at) in zip(batch, rows, strict=True):
                if status in (b"queued", b"started") and origin:
                    state = f"{_text(status)}|{_text(enqueued_at or b'')}"
                    candidates.setdefault(_text(origin), {})[key[len(JOB_KEY_PREFIX) :]] = state
        orphans: dict[str, Orphan] = {}
        for origin, states in candidates.items():
            queue = queue_for(origin, self.connection)
            placed = {_text(i) for i in cast(list[bytes], self.connection.lrange(queue.key, 0, -1))}
            wip = cast(list[bytes], self.connection.zrange(queue.started_job_registry.key, 0, -1))
            placed.update(_text(entry).split(":", 1)[0] for entry in wip)
            orphans.update(
                {job_id: Orphan(origin, state) for job_id, state in states.items() if job_id not in placed}
            )
        return orphans

    def _job_keys(self) -> Iterator[str]:
        for key in self.connection.scan_iter(match=JOB_KEY_PREFIX + "*", count=SCAN_BATCH, _type="hash"):
            if ":" not in _text(key)[len(JOB_KEY_PREFIX) :]:
                yield _text(key)

    def _requeue_orphan(self, job_id: str, orphan: Orphan) -> bool:
        poison = read_poison_reason(self.connection, job_id, orphan.origin)
        if poison is not None:
            # RQ's dequeue skips a hash without data as if it were gone, so put back it would be lost
            # again at every scan; like any job that is not fraiday's, it is failed unrun.
            with self.connection.pipeline() as pipeline:
                dead_letter(self.connection, pipeline, orphan.origin, job_id, str(poison))
                pipeline.execute()
            POISON_JOBS.labels(orphan.origin, poison.kind).inc()
            log.error("job %s on %s moved to the failed registry unrun: %s", job_id, orphan.origin, poison)
            return False
        queue = queue_for(orphan.origin, self.connection)
        registry = queue.started_job_registry.key
        keys = [JOB_KEY_PREFIX + job_id, queue.key, queue.intermediate_queue_key, registry]
        status, enqueued_at = orphan.state.split("|", 1)
        if self._requeue(keys=keys, args=[job_id, _rq_timestamp(), status, enqueued_at]) != 1:
            return False
        log.warning("job %s was lost between dequeue and start: back on %s", job_id, orphan.origin)
        return True


def _sighting(raw: Any) -> tuple[float, str] | None:
    """When a scan first saw a job orphaned, and in which state; None for an entry that does not read as
    one (written into Redis by hand), which then counts as no sighting instead of crashing every scan."""
    first, _, state = _text(raw).partition("|")
    try:
        seen = float(first)
    except ValueError:
        return None
    return (seen, state) if math.isfinite(seen) else None


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
