"""Timing every MongoDB command through pymongo's command monitoring, by operation and collection.

Each command is also a DEBUG log line with its duration: pymongo calls the listener in the thread that
ran the command, so the line carries the task's log context like any other line of the job. A command
of a side read (:mod:`handlers.side_reads`, a read made while the job waits on a slower call) is also
counted as that read's, so the time a job waits on MongoDB is the commands' time less the side reads'.
"""

import contextvars
import logging

from pymongo import monitoring

from handlers.metrics import MONGO_OPERATION_DURATION, SIDE_READ_DURATION

log = logging.getLogger("fraiday.mongodb")

SIDE_READ: contextvars.ContextVar[str | None] = contextvars.ContextVar("fraiday_side_read", default=None)
"""The side read the commands of this context belong to, if any."""


class CommandTimer(monitoring.CommandListener):
    """pymongo calls these from whichever thread ran the command; the collection is read at start."""

    def __init__(self) -> None:
        self._collections: dict[tuple[object, int], str] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        self._collections[(event.connection_id, event.request_id)] = target if isinstance(target, str) else ""

    def _observe(
        self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent, outcome: str
    ) -> None:
        collection = self._collections.pop((event.connection_id, event.request_id), "")
        MONGO_OPERATION_DURATION.labels(event.command_name, collection).observe(event.duration_micros / 1e6)
        side_read = SIDE_READ.get()
        if side_read is not None:
            SIDE_READ_DURATION.labels(side_read).observe(event.duration_micros / 1e6)
        if log.isEnabledFor(logging.DEBUG):
            duration_ms = round(event.duration_micros / 1000, 2)
            fields = {
                "operation": event.command_name,
                "collection": collection,
                "outcome": outcome,
                "duration_ms": duration_ms,
            }
            log.debug(
                "mongodb %s %s %s in %.1f ms",
                event.command_name,
                collection,
                outcome,
                duration_ms,
                extra=fields,
            )

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._observe(event, "ok")

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._observe(event, "failed")
