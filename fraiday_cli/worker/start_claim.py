"""Starting a popped job only if it is still the one the slot popped: the other half of the orphan sweep.

The orphan sweep (:mod:`fraiday_cli.worker.recovery`) requeues a job left between pop and start over two
scans, because a slot that died there never will start it. It cannot tell a slot that died from one
stalled there (a starved CPU, a frozen pod); the stalled one, resuming, used to run the job too, next to
the requeued copy: one attempt run twice. So a slot starts a job only through a claim, in one script:
the job must still be ``queued`` with the ``enqueued_at`` the slot loaded (every requeue writes a
new one), and the claim marks it ``started``. That mark is what the sweep compares between its scans, so
it never requeues a claimed job, and a second slot holding a copy of the same job finds it claimed.
Refused, the slot lets the job go: it is on its queue, in another slot's hands, or finished.

The claim and the start's writes are one script (:mod:`fraiday_cli.worker.guarded_writes`), so a claimed
job is started in the same step: no slot can die between the two. A job whose ``enqueued_at`` RQ would
not write back as the same text (not RQ's own format) is refused, then requeued by the orphan sweep in
RQ's format within its bound.
"""

import logging
from typing import Any

import redis
from rq.job import Job
from rq.queue import Queue
from rq.utils import utcformat

from fraiday_cli.worker.guarded_writes import RUN_WRITES

log = logging.getLogger("fraiday.worker")

CLAIM_START = (
    RUN_WRITES
    + """
-- KEYS: job hash, RQ's intermediate list of its queue
-- ARGV: job id, enqueued_at as the slot loaded it, then the start's writes (they mark it started)
local state = redis.call('HMGET', KEYS[1], 'status', 'enqueued_at')
if state[1] == 'queued' and (state[2] or '') == ARGV[2] then
  run_writes(3, #ARGV)
  return 1
end
redis.call('LREM', KEYS[2], 1, ARGV[1])
return 0
"""
)


class StartClaim:
    def __init__(self, connection: redis.Redis) -> None:
        self._claim = connection.register_script(CLAIM_START)

    def __call__(self, job: Job, queue: Queue, start_writes: list[Any]) -> bool:
        """Claim ``job`` and send its ``start_writes`` (packed by :mod:`~fraiday_cli.worker.guarded_writes`);
        False, nothing written and the job let go, if it has been handed on."""
        loaded = utcformat(job.enqueued_at) if job.enqueued_at else ""
        keys = [job.key, queue.intermediate_queue_key]
        if self._claim(keys=keys, args=[job.id, loaded, *start_writes]) == 1:
            return True
        log.warning(
            "job %s was requeued while this slot was starting it (a stall after its pop): left to it", job.id
        )
        return False
