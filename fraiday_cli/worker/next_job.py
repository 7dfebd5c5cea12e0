"""The next job, popped and loaded in the step that writes a busy slot's success: no round trip of its own.

RQ pops a job (BLMOVE or BLPOP) and then loads its hash, two round trips in front of every job, after
the one that wrote the last job's outcome. A slot that has just finished a job wants the next one at
once, so the script that writes the success (:meth:`LeaseKeeper.write_if_held`) also pops the next job
the way RQ would, into its queue's intermediate list, and returns its hash: when the queue is not empty,
a job costs one round trip less to get and one less to load. When it is empty, the slot waits in RQ's
blocking pop as before.

A popped job is in the same state as after RQ's own pop (off its queue, in the intermediate list, still
``queued``) until the slot starts it, which it does next. A slot that stops or is suspended first puts it
back at the front of its queue; one killed in between leaves it to the orphan sweep
(:mod:`fraiday_cli.worker.recovery`), as for a slot killed just after RQ's pop. Paused queues are skipped
in the same script, so a job is never popped from a queue paused before the pop.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

import redis
from rq.queue import Queue

from fraiday_cli.tasks.pausing import PAUSED_KEY, paused_names
from handlers.wire_format import JOB_KEY_PREFIX

POP_NEXT = """
local function pop_next(first)
  local i = first + 2
  while i <= #ARGV do
    if redis.call('SISMEMBER', ARGV[first], ARGV[i]) == 0 then
      local id = redis.call('LMOVE', ARGV[i + 1], ARGV[i + 2], 'LEFT', 'RIGHT')
      if id then
        local popped = {redis.call('SMEMBERS', ARGV[first]), (i - first - 2) / 3 + 1, id}
        local data = redis.pcall('HGETALL', ARGV[first + 1] .. id)
        if data.err then
          popped[4], popped[5] = {}, data.err
        else
          popped[4] = data
        end
        return popped
      end
    end
    i = i + 3
  end
  return {redis.call('SMEMBERS', ARGV[first])}
end
"""
"""Lua: from ARGV's ``first`` on (the paused set's key, the job key prefix, then each queue's name, key and
intermediate list in the order to try), pop from the first queue that is neither paused nor empty, as
RQ's LMOVE does. Returns the paused set, then, if a job was popped, its queue's place, its id, its hash and,
if its key is not a hash (planted by hand), Redis' error. SISMEMBER rather than one SMEMBERS before the
pop: a script's writes come after deterministic reads."""


class NextJob(NamedTuple):
    queue: Queue
    job_id: bytes
    data: dict[bytes, bytes]
    """The job's hash as popped; empty if the id names no job."""
    unreadable: redis.ResponseError | None
    """What Redis answered when the job's key could not be read as a hash, if it could not."""


def pop_args(queues: Sequence[Queue]) -> list[str]:
    """``POP_NEXT``'s arguments for trying ``queues`` in this order."""
    args = [PAUSED_KEY, JOB_KEY_PREFIX]
    for queue in queues:
        args += [queue.name, queue.key, queue.intermediate_queue_key]
    return args


def popped(reply: list[Any], queues: Sequence[Queue]) -> tuple[set[str], NextJob | None]:
    """The paused queues and the job ``POP_NEXT`` popped from ``queues``, if any."""
    paused = paused_names(reply[0])
    if len(reply) == 1:
        return paused, None
    place, job_id, flat, *unreadable = reply[1:]
    data = dict(zip(flat[::2], flat[1::2], strict=True))
    error = redis.ResponseError(unreadable[0].decode(errors="replace")) if unreadable else None
    return paused, NextJob(queues[place - 1], job_id, data, error)
