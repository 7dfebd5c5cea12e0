"""RQ's logging during a Redis outage, cut down to one line per reconnect attempt.

RQ's worker already retries a lost connection with backoff and logs each attempt; on top of that its
command-listener thread logs the same outage every 2 s, and a connection error outside the dequeue wait
is logged with a full traceback (as is the death of its scheduler process). Those lines carry no more than
the driver's one-line reason, so this filter keeps exactly that, and drops the duplicate listener lines.
"""

import logging

from fraiday_cli.unreachable import REDIS_ERRORS, reason

LISTENER_HANDLER = "_pubsub_exception_handler"
"""The RQ method whose log lines repeat, every 2 s, the outage the dequeue loop already reports."""

RQ_LOGGERS = ("rq.worker", "rq.scheduler")


class RedisOutageFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.funcName == LISTENER_HANDLER:
            return False
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, REDIS_ERRORS):
            record.msg, record.args = f"{record.getMessage()}: {reason(error)}", None
            record.exc_info, record.exc_text = None, None
        elif "Traceback (most recent call last)" in (message := record.getMessage()):
            # RQ's scheduler formats its traceback into the message itself.
            first, *_, last = message.strip().splitlines()
            if last.startswith(tuple(f"redis.exceptions.{e.__name__}" for e in REDIS_ERRORS)):
                record.msg, record.args = f"{first.rstrip('.')}: {last.split(': ', 1)[-1]}", None
        return True


def quiet_redis_outages() -> None:
    """Install the filter on RQ's loggers (in each slot: the filter lives in the process's logging)."""
    for name in RQ_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedisOutageFilter) for f in logger.filters):
            logger.addFilter(RedisOutageFilter())
