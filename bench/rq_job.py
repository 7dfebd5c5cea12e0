"""Plain RQ's no-op, in a module of its own: RQ's default worker imports the job's module in every
forked work-horse, so anything else imported here would be charged to RQ for each job."""

import functools
import os
import time

import redis

COUNTER = "bench:done"
SLEEP_SECONDS = 0.2


@functools.cache
def _client(pid: int) -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"])


def rq_noop(n: int) -> None:
    _client(os.getpid()).incr(COUNTER)


def rq_sleep(n: int) -> None:
    time.sleep(SLEEP_SECONDS)
    _client(os.getpid()).incr(COUNTER)
