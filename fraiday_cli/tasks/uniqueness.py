"""Unique tasks: while one is pending or running, enqueueing an equal one returns its id instead.

The lock names the job that holds it, and a holder whose job is no longer queued, scheduled or started
(finished, failed for good, or expired) is replaced, so a crashed producer can never wedge a task type.
The check and the swap run as one Lua script: two producers racing get one job.
"""

import hashlib
import json
from typing import Any

import redis

from handlers.registry import TaskSpec
from handlers.wire_format import JOB_KEY_PREFIX

KEY_PREFIX = "fraiday:unique:"

_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder then
  local status = redis.call('HGET', ARGV[3] .. holder, 'status')
  if status == 'queued' or status == 'started' or status == 'scheduled' or status == 'deferred' then
    return holder
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class UniqueLock:
    def __init__(self, connection: redis.Redis, key: str) -> None:
        self.connection = connection
        self.key = key

    @classmethod
    def for_task(cls, connection: redis.Redis, spec: TaskSpec, payload: dict[str, Any]) -> "UniqueLock":
        identity = json.dumps([payload[f] for f in spec.unique_fields], sort_keys=True)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        return cls(connection, f"{KEY_PREFIX}{spec.name}:{digest}")

    def acquire(self, job_id: str, ttl_seconds: int) -> str:
        """Take the lock for ``job_id``; return the id of the job that holds it (``job_id`` if we do)."""
        holder = self.connection.eval(_ACQUIRE, 1, self.key, job_id, ttl_seconds, JOB_KEY_PREFIX)
        return holder.decode() if isinstance(holder, bytes) else str(holder)

    def release(self, job_id: str) -> None:
        self.connection.eval(_RELEASE, 1, self.key, job_id)
