"""RQ's worker logging during a Redis outage, cut down to one line per reconnect attempt.

RQ's worker already retries a lost connection with backoff and logs each attempt; on top of that its
command-listener thread logs the same outage every 2 s, and a connection error outside the dequeue wait
is logged with a full traceback. Those lines carry no more than the driver's one-line reason, so this
filter keeps exactly that, and drops the duplicate listener lines.
"""

import logging

from fraiday_cli.unreachable import REDIS_ERRORS, reason

LISTENER_HANDLER = "_pubsub_exception_handler"
"""The RQ method whose log lines repeat, every 2 s, the outage the dequeue loop already reports."""

RQ_WORKER_LOGGER = "rq.worker"


class RedisOutageFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.funcName == LISTENER_HANDLER:
            return False
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, REDIS_ERRORS):
            record.msg, record.args = f"{record.getMessage()}: {reason(error)}", None
            record.exc_info, record.exc_text = None, None
        return True


def quiet_redis_outages() -> None:
    """Install the filter on RQ's worker logger (in each slot: filters live in the process's logging)."""
    logger = logging.getLogger(RQ_WORKER_LOGGER)
    if not any(isinstance(f, RedisOutageFilter) for f in logger.filters):
        logger.addFilter(RedisOutageFilter())
