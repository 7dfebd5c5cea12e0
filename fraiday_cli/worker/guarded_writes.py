"""RQ's writes for a job's start or outcome, sent only while a check on the job still holds, in one trip.

A slot starts a job only if it is still the job it popped (:mod:`fraiday_cli.worker.start_claim`), and
writes a success only if it still holds the job's lease (:mod:`fraiday_cli.worker.lease`). Each check was
a round trip of its own in front of the transaction RQ's writes went out in; MULTI/EXEC cannot make
writes depend on a read, a script can. So RQ still queues its writes on a pipeline, as it does for every
transaction, and the checking script runs them in its place: atomically, as MULTI/EXEC did, and two
round trips fewer per job.

The writes are read from redis-py's ``Pipeline.command_stack`` (pinned with redis-py; the library
contract test holds its shape).
"""

from typing import Any

import redis

RUN_WRITES = """
local function run_writes(first, last)
  local replies, refused, i = {}, nil, first
  while i <= last do
    local n = tonumber(ARGV[i])
    local reply = redis.pcall(unpack(ARGV, i + 1, i + n))
    if type(reply) == 'table' and reply.err then
      refused = refused or reply
    end
    replies[#replies + 1] = reply
    i = i + n + 1
  end
  if refused then
    return error(refused)
  end
  return replies
end
"""
"""Lua: run the writes packed in ARGV from ``first`` to ``last``, each as its word count and its words.

A write Redis refuses (a key of another type, planted or left by hand) does not stop the others, and the
first refusal is the script's error once all have run: what EXEC does. A script stopping at the refusal
left half an outcome instead, such as a success that marked the job finished but kept its lease entry,
so the slot retried a job that had run."""


def packed_writes(pipeline: redis.client.Pipeline) -> list[Any]:
    """The pipeline's queued commands as ``RUN_WRITES`` reads them; the pipeline itself is left unsent."""
    packed: list[Any] = []
    for args, _options in pipeline.command_stack:
        packed.append(len(args))
        packed.extend(args)
    return packed
