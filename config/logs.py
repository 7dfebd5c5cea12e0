"""One place that configures logging for the server, the workers and the CLI.

Lines are JSON by default (one object per line, for the log pipeline); ``LOG_FORMAT=text`` is for people
reading a terminal. Fields bound with :func:`log_context` (task id, type, queue, attempt, request id) are
added to every line logged inside that context, so handlers never repeat them by hand.
"""

import contextvars
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from config.redaction import Redactor

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "fraiday_log_context", default=None
)

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
UNMASKED_FIELDS = frozenset({"msg", "name", "levelname", "pathname", "filename", "module", "funcName"})


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every log line emitted inside the block (nesting merges)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context() -> dict[str, Any]:
    return dict(_context.get() or {})


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class RedactFilter(logging.Filter):
    """Masks configured secrets in a line's message, its string fields and its traceback."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.redactor = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.redactor.secrets:
            return True
        message = record.getMessage()
        masked = self.redactor.redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info:
            # Formatters would render the traceback from exc_info again; keep only the redacted text.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        for key, value in list(vars(record).items()):
            if isinstance(value, str) and key not in UNMASKED_FIELDS:
                setattr(record, key, self.redactor.redact(value))
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in (_context.get() or {}).items())
        return f"{line} [{extra}]" if extra else line


def configure_logging(level: str = "INFO", fmt: str = "json", secrets: Sequence[str] = ()) -> None:
    """Replace the root handlers with one stderr handler in the chosen format (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter
    if fmt == "text":
        formatter = TextFormatter(TEXT_FORMAT)
    else:
        formatter = JsonFormatter(
            JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}
        )
    # ISO 8601 in UTC, whatever the container's timezone.
    formatter.converter = time.gmtime
    formatter.default_time_format = "%Y-%m-%dT%H:%M:%S"
    formatter.default_msec_format = "%s.%03dZ"
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # RQ attaches its own colourised handlers to these loggers unless one is configured above them.
    for name in ("rq", "rq.worker", "rq.worker_pool", "rq.scheduler"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
