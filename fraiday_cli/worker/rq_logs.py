"""RQ's worker logging, cut down to what fraiday's own lines do not already say.

During a Redis outage, RQ's worker retries with backoff and logs each attempt; on top of that its
command-listener thread logs the same outage every 2 s, and a connection error outside the dequeue wait
is logged with a full traceback. Those lines carry no more than the driver's one-line reason, so only
that is kept, and the listener's duplicates are dropped.

RQ also logs every failed job with its traceback. For a permanent failure (a 4xx from the AI service, no
AI service configured, a bad payload) that is expected and already said, with its reason, by the task's
own ``task failed permanently`` line; for a dependency that cannot be reached (MongoDB, Redis) the
task's ``task attempt failed`` line names the error, and the attempt is retried: RQ's copy is dropped
in both cases, rather than about 70 lines per attempt. Unexpected failures keep their traceback.
"""

import logging
import sys

from fraiday_cli.unreachable import REDIS_ERRORS, UNREACHABLE, reason
from handlers.errors import PermanentError

LISTENER_HANDLER = "_pubsub_exception_handler"
"""The RQ method whose log lines repeat, every 2 s, the outage the dequeue loop already reports."""

JOB_EXCEPTION_HANDLER = "handle_exception"
"""The RQ method that logs a failed job's traceback, called while the job's exception is handled."""

RQ_WORKER_LOGGER = "rq.worker"


class RQWorkerLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.funcName == LISTENER_HANDLER and record.levelno == logging.ERROR:
            return False  # its connection-error line; the listener's other exits still show
        if record.funcName == JOB_EXCEPTION_HANDLER and isinstance(
            sys.exc_info()[1], (PermanentError, *UNREACHABLE)
        ):
            return False
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, REDIS_ERRORS):
            record.msg, record.args = f"{record.getMessage()}: {reason(error)}", None
            record.exc_info, record.exc_text = None, None
        return True


def quiet_rq_logs() -> None:
    """Install the filter on RQ's worker logger (in each slot: filters live in the process's logging)."""
    logger = logging.getLogger(RQ_WORKER_LOGGER)
    if not any(isinstance(f, RQWorkerLogFilter) for f in logger.filters):
        logger.addFilter(RQWorkerLogFilter())
