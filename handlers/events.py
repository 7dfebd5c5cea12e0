"""The event processor: store a business event once, deliver it to the client's subscriptions."""

from typing import Any

from handlers.notify import DeliveriesOutstanding, envelope, notify
from handlers.payloads import EventProcessorPayload
from handlers.registry import TaskContext
from handlers.services import Services
from handlers.services.database.events import EventStatus

EVENT_FIELDS = ("event_id", "client_id", "event_type", "entity_type", "payload")


def process_event(payload: EventProcessorPayload, services: Services, task: TaskContext) -> dict[str, Any]:
    events = services.db.events
    # The first stored copy of an event id wins: a later task for the same id delivers what was stored.
    event, stored_now = events.record(payload.model_dump(), task.task_id)
    data = {field: event[field] for field in EVENT_FIELDS}
    try:
        deliveries = notify(
            services,
            task,
            source=f"event:{event['event_id']}",
            client_id=event["client_id"],
            event_type=event["event_type"],
            body=envelope(event["event_id"], event["event_type"], event["received_at"], data),
            stored_now=stored_now,
        )
    except DeliveriesOutstanding as exc:
        status = EventStatus.FAILED if task.is_last_attempt else EventStatus.RETRYING
        events.set_status(event["event_id"], status, services.redactor.error(str(exc)))  # one per delivery
        raise
    events.set_status(event["event_id"], EventStatus.PROCESSED)
    return {"event_id": event["event_id"], "deliveries": deliveries}
