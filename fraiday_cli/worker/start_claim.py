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

The claim also refuses a job whose queue is paused, and puts it back at the front of the queue: a slot
checks the paused set when it pops, but the job starts a moment later, and a busy slot pops its next job
with the last one's success (:mod:`fraiday_cli.worker.next_job`), before its own bookkeeping and
heartbeat. Checked in the claim, a pause is exact: no job starts once ``fraiday pause`` has returned,
so ``fraiday drain``, which then waits for the started jobs, never reports a queue drained while a slot
is about to start one of its jobs.
"""

import logging
from typing import Any

import redis
from rq.job import Job
from rq.queue import Queue
from rq.utils import utcformat

from fraiday_cli.tasks.pausing import PAUSED_KEY
from fraiday_cli.worker.guarded_writes import RUN_WRITES

log = logging.getLogger("fraiday.worker")

CLAIM_START = (
    RUN_WRITES
    + """
-- KEYS: job hash, RQ's intermediate list of its queue, the queue, the paused set
-- ARGV: job id, enqueued_at as the slot loaded it, the queue's name, then the start's writes (they mark
-- it started)
local state = redis.call('HMGET', KEYS[1], 'status', 'enqueued_at')
if state[1] == 'queued' and (state[2] or '') == ARGV[2] then
  if redis.call('SISMEMBER', KEYS[4], ARGV[3]) == 1 then
    redis.call('LREM', KEYS[2], 1, ARGV[1])
    redis.call('LPUSH', KEYS[3], ARGV[1])
    return 2
  end
  run_writes(4, #ARGV)
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
        False, nothing written, if it has been handed on (the job let go) or its queue is paused (the job
        back at the front of its queue)."""
        loaded = utcformat(job.enqueued_at) if job.enqueued_at else ""
        keys = [job.key, queue.intermediate_queue_key, queue.key, PAUSED_KEY]
        claimed = self._claim(keys=keys, args=[job.id, loaded, queue.name, *start_writes])
        if claimed == 1:
            return True
        if claimed == 2:
            log.info("put %s back on %s: its queue is paused", job.id, queue.name)
            return False
        log.warning(
            "job %s was requeued while this slot was starting it (a stall after its pop): left to it", job.id
        )
        return False
