"""Counting what a webhook receiver saw, per event: the ground truth of the fault-injection tests."""

from collections import defaultdict

from handlers.services import Services
from tests.support.http_stub import HttpStub, Request

EVENT = {"client_id": "acme", "event_type": "order.created", "entity_type": "order", "payload": {"total": 1}}


def event(i: int, prefix: str = "evt") -> dict[str, object]:
    return {**EVENT, "event_id": f"{prefix}-{i}"}


def subscribe(services: Services, receiver: HttpStub, path: str = "/hook") -> None:
    services.db.subscriptions.create("acme", receiver.url + path, ["order.created"])


def complete_requests(receiver: HttpStub, path: str = "/hook") -> list[Request]:
    """Requests whose body arrived whole: a sender killed mid-request leaves a truncated one, which a
    receiver rejects (its signature cannot verify) and the sender never saw answered."""
    complete = []
    for request in receiver.to(path):
        try:
            request.json()
        except ValueError:
            continue
        complete.append(request)
    return complete


def deliveries_by_event(receiver: HttpStub, path: str = "/hook") -> dict[str, set[str]]:
    """Event id -> the distinct X-Fraiday-Delivery ids it arrived with (2xx answered or not)."""
    seen: dict[str, set[str]] = defaultdict(set)
    for request in complete_requests(receiver, path):
        seen[request.json()["id"]].add(request.headers["X-Fraiday-Delivery"])
    return seen


def delivered_count(services: Services) -> int:
    return services.db.deliveries.deliveries.count_documents({"status": "delivered"})
