"""Starting a popped job only if it is still the one the slot popped: the other half of the orphan sweep.

The orphan sweep (:mod:`fraiday_cli.worker.recovery`) requeues a job left between pop and start over two
scans, because a slot that died there never will start it. It cannot tell a slot that died from one
stalled there (a starved CPU, a frozen pod); the stalled one, resuming, used to run the job too, next to
the requeued copy: one attempt run twice. So before its start transaction a slot claims the job in one
script: the job must still be ``queued`` with the ``enqueued_at`` the slot loaded (every requeue writes a
new one), and the claim marks it ``started``. That mark is what the sweep compares between its scans, so
it never requeues a claimed job, and a second slot holding a copy of the same job finds it claimed.
Refused, the slot lets the job go: it is on its queue, in another slot's hands, or finished.

A slot that dies between its claim and its start leaves a ``started`` job in no registry, which the sweep
requeues like any orphan. A job whose ``enqueued_at`` RQ would not write back as the same text (not RQ's
own format) is refused too, then requeued by the sweep in RQ's format within the same bound.
"""

import logging

import redis
from rq.job import Job
from rq.queue import Queue
from rq.utils import utcformat

log = logging.getLogger("fraiday.worker")

CLAIM_START = """
-- KEYS: job hash, RQ's intermediate list of its queue
-- ARGV: job id, enqueued_at as the slot loaded it
local state = redis.call('HMGET', KEYS[1], 'status', 'enqueued_at')
if state[1] == 'queued' and (state[2] or '') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'status', 'started')
  return 1
end
redis.call('LREM', KEYS[2], 1, ARGV[1])
return 0
"""


class StartClaim:
    def __init__(self, connection: redis.Redis) -> None:
        self._claim = connection.register_script(CLAIM_START)

    def __call__(self, job: Job, queue: Queue) -> bool:
        """Claim ``job`` for this slot's start; False (and the job let go) if it has been handed on."""
        loaded = utcformat(job.enqueued_at) if job.enqueued_at else ""
        if self._claim(keys=[job.key, queue.intermediate_queue_key], args=[job.id, loaded]) == 1:
            return True
        log.warning(
            "job %s was requeued while this slot was starting it (a stall after its pop): left to it", job.id
        )
        return False
