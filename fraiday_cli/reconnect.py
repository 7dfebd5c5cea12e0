"""Riding out a Redis outage in a long-running process: one line per attempt, backing off, then resuming.

Workers, the scheduler and the Celery bridge must come back by themselves when Redis does (a restart, a
failover). What an operator needs from their logs meanwhile is one line per attempt naming the address
and the reason; a traceback per loop buries it, and a fixed short retry hammers a server coming back.
"""

import logging
import threading
from typing import Protocol

import redis

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 5.0


def address_of(connection: redis.Redis) -> str:
    """Where a client connects, as ``host:port/db``: never its password, which the kwargs also hold."""
    options = connection.connection_pool.connection_kwargs
    if "path" in options:
        return f"unix://{options['path']}"
    return f"{options.get('host', 'localhost')}:{options.get('port', 6379)}/{options.get('db', 0)}"


class Backoff:
    """Counts consecutive failures of one connection and says how long to wait before the next try."""

    def __init__(
        self,
        log: logging.Logger,
        connection: redis.Redis,
        first_delay: float = FIRST_DELAY_SECONDS,
        max_delay: float = MAX_DELAY_SECONDS,
    ) -> None:
        self.log = log
        self.address = address_of(connection)
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.attempts = 0

    def failed(self, error: BaseException) -> float:
        """Log this failed attempt (one line) and return the delay before the next: 1, 2, 4, 5, 5 ... s."""
        delay = min(self.max_delay, self.first_delay * 2.0**self.attempts)
        self.attempts += 1
        self.log.warning(
            "Redis at %s unreachable (attempt %d): %s; retrying in %gs",
            self.address,
            self.attempts,
            (str(error).strip() or type(error).__name__).rstrip("."),
            delay,
        )
        return delay

    def succeeded(self) -> None:
        if self.attempts:
            self.log.info("Redis at %s reachable again after %d attempt(s)", self.address, self.attempts)
            self.attempts = 0


class Stop(Protocol):
    """What ends a wait early: a ``threading.Event``, or anything that waits the same way."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float) -> bool: ...


def wait_for_redis(connection: redis.Redis, log: logging.Logger, stop: Stop | None = None) -> bool:
    """Block until ``connection`` answers PING (True) or ``stop`` is set (False)."""
    backoff = Backoff(log, connection)
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            connection.ping()
        except redis.RedisError as error:
            stop.wait(backoff.failed(error))
            continue
        backoff.succeeded()
        return True
    return False
