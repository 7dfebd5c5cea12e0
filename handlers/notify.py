"""Delivering one thing (an event, a chat reply) to every matching subscription of a client.

Each (thing, subscription) pair has one delivery record; a task run again (a retry, or a duplicate after
a crash) skips the pairs already settled and sends only what is still outstanding. While a retryable
delivery is outstanding the task fails, so its retry policy brings it back; on the last attempt the
outstanding deliveries are marked failed and the task ends failed with the records saying why.
"""

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from handlers.metrics import WEBHOOK_DELIVERIES, WEBHOOK_DELIVERY_DURATION
from handlers.registry import TaskContext
from handlers.services import Services
from handlers.services.database.documents import Document
from handlers.services.database.webhooks import DeliveryStatus
from handlers.services.webhooks import Verdict

log = logging.getLogger("fraiday.webhooks")


class DeliveriesOutstanding(Exception):
    """Some deliveries failed in a way a later attempt may fix; the task is retried for them."""


def envelope(envelope_id: str, event_type: str, created_at: datetime, data: Mapping[str, Any]) -> bytes:
    """The body every receiver gets; built from stored values only, so each retry sends the same bytes."""
    document = {"id": envelope_id, "type": event_type, "created_at": created_at.isoformat(), "data": data}
    return json.dumps(document, separators=(",", ":"), default=str).encode()


def _status(verdict: Verdict, last_attempt: bool) -> DeliveryStatus:
    if verdict is Verdict.RETRY:
        return DeliveryStatus.FAILED if last_attempt else DeliveryStatus.RETRYING
    return {
        Verdict.DELIVERED: DeliveryStatus.DELIVERED,
        Verdict.GONE: DeliveryStatus.GONE,
        Verdict.REJECTED: DeliveryStatus.FAILED,
        Verdict.REFUSED: DeliveryStatus.REFUSED,
    }[verdict]


def notify(
    services: Services,
    task: TaskContext,
    *,
    source: str,
    client_id: str,
    event_type: str,
    body: bytes,
    stored_now: bool = False,
    subscriptions: Sequence[Document] | None = None,
) -> dict[str, int]:
    """Deliver ``body`` for ``source``; return how many deliveries ended in each status this run.

    ``stored_now``: this run stored what ``source`` names (an answer, an event), so no run delivered any
    of it before; each attempt is then sent without reading or opening its record first, and recorded
    once, after it (a round trip fewer per subscription). ``subscriptions``: the client's subscriptions to
    ``event_type``, read earlier by the caller (while it made what it delivers); None reads them now."""
    db = services.db
    counts: dict[str, int] = {}
    outstanding: list[str] = []
    if subscriptions is None:
        subscriptions = db.subscriptions.matching(client_id, event_type)
    for subscription in subscriptions:
        record = None if stored_now else db.deliveries.open(source, subscription, event_type)
        if record is not None and DeliveryStatus(record["status"]).final:
            continue
        delivery_id = (
            db.deliveries.delivery_id(source, subscription) if record is None else record["delivery_id"]
        )
        attempt = services.webhooks.send(
            subscription["url"], subscription["secret"], event_type, delivery_id, body
        )
        if attempt.error is not None:
            attempt = replace(attempt, error=services.redactor.error(attempt.error, [subscription["secret"]]))
        status = _status(attempt.verdict, task.is_last_attempt)
        outcome = (status, attempt.status_code, attempt.error, attempt.latency_ms)
        if record is None:
            db.deliveries.record_first_attempt(source, subscription, event_type, *outcome)
        else:
            db.deliveries.record_attempt(record, *outcome)
        WEBHOOK_DELIVERIES.labels(event_type, status.value).inc()
        WEBHOOK_DELIVERY_DURATION.labels(event_type).observe(attempt.latency_ms / 1000)
        if attempt.verdict is Verdict.GONE:
            db.subscriptions.deactivate(subscription["_id"], "the receiver answered 410 Gone")
        log.log(
            logging.INFO if status is DeliveryStatus.DELIVERED else logging.WARNING,
            "webhook %s to subscription %s: %s",
            event_type,
            subscription["_id"],
            status.value,
            extra={
                "event_type": event_type,
                "subscription_id": str(subscription["_id"]),
                "delivery_id": delivery_id,
                "delivery_status": status.value,
                "status_code": attempt.status_code,
                "duration_ms": attempt.latency_ms,
                "error": attempt.error,
            },
        )
        counts[status.value] = counts.get(status.value, 0) + 1
        if attempt.verdict is Verdict.RETRY:
            outstanding.append(f"{subscription['_id']} ({attempt.error})")
    if outstanding:
        what = "failed for good" if task.is_last_attempt else "to retry"
        raise DeliveriesOutstanding(
            f"{len(outstanding)} webhook delivery(ies) {what}: {'; '.join(outstanding)}"
        )
    return counts
