"""Pausing a queue (Asynq's ``PauseQueue``): workers stop taking its jobs; queued ones wait, none lost.

The paused set lives in Redis so every worker sees it; a slot reads it before each dequeue, so a pause
takes effect at a slot's next dequeue and a resume within one idle wait (half the recovery bound).
"""

import redis

PAUSED_KEY = "fraiday:paused_queues"


def pause(connection: redis.Redis, queue: str) -> None:
    connection.sadd(PAUSED_KEY, queue)


def resume(connection: redis.Redis, queue: str) -> None:
    connection.srem(PAUSED_KEY, queue)


def paused_queues(connection: redis.Redis) -> set[str]:
    return {m.decode() if isinstance(m, bytes) else str(m) for m in connection.smembers(PAUSED_KEY)}
