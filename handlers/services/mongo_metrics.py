"""Timing every MongoDB command through pymongo's command monitoring, by operation and collection."""

from pymongo import monitoring

from handlers.metrics import MONGO_OPERATION_DURATION


class CommandTimer(monitoring.CommandListener):
    """pymongo calls these from whichever thread ran the command; the collection is read at start."""

    def __init__(self) -> None:
        self._collections: dict[tuple[object, int], str] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        self._collections[(event.connection_id, event.request_id)] = target if isinstance(target, str) else ""

    def _observe(self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent) -> None:
        collection = self._collections.pop((event.connection_id, event.request_id), "")
        MONGO_OPERATION_DURATION.labels(event.command_name, collection).observe(event.duration_micros / 1e6)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._observe(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._observe(event)
