"""The event processor and webhook delivery: verdicts, records, deactivation, retries and the SSRF guard."""

from typing import Any

import pytest

from handlers.events import process_event
from handlers.notify import DeliveriesOutstanding
from handlers.payloads import EventProcessorPayload
from handlers.services import Services
from handlers.services.database.webhooks import DeliveryStatus
from tests.handlers.conftest import attempt
from tests.support.http_stub import Answer, HttpStub

EVENT = EventProcessorPayload(
    event_id="evt-1001",
    client_id="acme",
    event_type="order.created",
    entity_type="order",
    payload={"order_id": "o-7", "total": 42.5},
)


def records(services: Services) -> dict[str, dict[str, Any]]:
    by_url = {}
    for record in services.db.deliveries.for_source("event:evt-1001"):
        by_url[record["url"].rsplit("/", 1)[1]] = record
    return by_url


def test_three_subscriptions_flaky_slow_and_gone_end_as_their_receivers_answered(
    services: Services, stub: HttpStub
) -> None:
    subs = services.db.subscriptions
    flaky = subs.create("acme", stub.script("/flaky", Answer(500, "boom"), Answer(200)), ["order.created"])
    subs.create("acme", stub.script("/slow", Answer(200, delay=1.5)), ["*"])  # the timeout is 1 s
    gone = subs.create("acme", stub.script("/gone", Answer(410)), ["order.created", "order.paid"])
    subs.create("acme", stub.script("/other-type", Answer(200)), ["order.paid"])
    subs.create("globex", stub.script("/other-client", Answer(200)), ["*"])

    with pytest.raises(DeliveriesOutstanding, match="2 webhook delivery"):
        process_event(EVENT, services, attempt(1))
    first = records(services)
    assert set(first) == {"flaky", "slow", "gone"}
    assert (first["flaky"]["status"], first["flaky"]["last_status_code"]) == ("retrying", 500)
    assert first["flaky"]["last_error"] == "answered 500: boom"
    assert (first["slow"]["status"], first["slow"]["last_error"]) == ("retrying", "timed out after 1s")
    assert (first["gone"]["status"], first["gone"]["last_status_code"]) == ("gone", 410)
    assert subs.get("acme", str(gone["_id"]))["active"] is False
    assert services.db.events.get("evt-1001")["status"] == "retrying"

    for number in range(2, 5):
        with pytest.raises(DeliveriesOutstanding, match="1 webhook delivery"):
            process_event(EVENT, services, attempt(number))
    with pytest.raises(DeliveriesOutstanding, match="failed for good"):
        process_event(EVENT, services, attempt(5))

    final = records(services)
    assert (final["flaky"]["status"], final["flaky"]["attempts"], final["flaky"]["last_status_code"]) == (
        "delivered",
        2,
        200,
    )
    assert final["flaky"]["delivered_at"] is not None and final["flaky"]["latency_ms"] > 0
    assert (final["slow"]["status"], final["slow"]["attempts"]) == ("failed", 5)
    assert (final["gone"]["status"], final["gone"]["attempts"]) == ("gone", 1)
    assert len(stub.to("/flaky")) == 2
    assert len(stub.to("/gone")) == 1
    assert len(stub.to("/slow")) == 5
    assert stub.to("/other-type") == stub.to("/other-client") == []
    # One delivery id per delivery, the same on every retry; one stored event.
    assert len({r.headers["X-Fraiday-Delivery"] for r in stub.to("/flaky")}) == 1
    assert len({r.body for r in stub.to("/flaky")}) == 1
    assert services.db.events.events.count_documents({"event_id": "evt-1001"}) == 1
    assert services.db.events.get("evt-1001")["status"] == "failed"
    assert flaky["active"] is True


def test_an_event_is_delivered_once_however_often_its_task_runs(services: Services, stub: HttpStub) -> None:
    services.db.subscriptions.create("acme", stub.script("/ok", Answer(204)), ["order.created"])
    assert process_event(EVENT, services, attempt(1))["deliveries"] == {"delivered": 1}
    assert process_event(EVENT, services, attempt(1, task_id="a-duplicate-task"))["deliveries"] == {}
    (request,) = stub.to("/ok")
    assert request.json()["data"] == EVENT.model_dump()
    assert services.db.events.get("evt-1001")["status"] == "processed"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:{port}/internal", "http://169.254.169.254/latest/meta-data/"]
)
def test_internal_destinations_are_refused_without_the_allowlist(
    services: Services, stub: HttpStub, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    stub.script("/internal", Answer(200))
    monkeypatch.delenv("FRAIDAY_WEBHOOK_ALLOWLIST")
    from config import load_settings

    strict = Services(load_settings())
    strict.db.subscriptions.create("acme", url.format(port=stub.server.server_port), ["*"])
    assert process_event(EVENT, strict, attempt(1))["deliveries"] == {"refused": 1}
    (record,) = strict.db.deliveries.for_source("event:evt-1001")
    assert record["status"] == DeliveryStatus.REFUSED
    assert "loopback, private, link-local or reserved" in record["last_error"]
    assert stub.requests == []
    strict.close()


def test_a_cookie_one_client_s_receiver_sets_is_never_sent_with_another_client_s_webhook(
    services: Services, stub: HttpStub
) -> None:
    """Every job of a slot (and every job thread) shares one HTTP session: a cookie jar in it would carry
    the session a receiver opened for one client to the webhooks of every other client on that host."""
    subs = services.db.subscriptions
    subs.create("acme", stub.script("/acme", Answer(200, set_cookie="session=acme-secret; Path=/")), ["*"])
    subs.create("globex", stub.script("/globex", Answer(200)), ["*"])
    process_event(EVENT, services, attempt(1))
    other = EVENT.model_copy(update={"event_id": "evt-1002", "client_id": "globex"})
    process_event(other, services, attempt(1))
    assert len(stub.to("/acme")) == len(stub.to("/globex")) == 1
    received = stub.to("/globex")[0].headers
    assert "Cookie" not in received and "cookie" not in received


def test_the_events_error_text_is_cut_short_however_many_deliveries_fail(
    services: Services, stub: HttpStub
) -> None:
    for number in range(20):
        services.db.subscriptions.create(
            "acme", stub.script(f"/down-{number}", Answer(503, "y" * 400)), ["*"]
        )
    with pytest.raises(DeliveriesOutstanding, match="20 webhook delivery"):
        process_event(EVENT, services, attempt(1))
    error = services.db.events.get("evt-1001")["error"]
    assert error.startswith("20 webhook delivery(ies) to retry") and len(error) <= 500


def test_a_first_attempt_that_raced_a_run_opening_its_record_is_counted_on_that_record(
    services: Services,
) -> None:
    """A run that stored the event sends its first attempt without opening a record; a duplicate task
    that found the event opened one meanwhile. The attempt is counted on that record, and both runs sent
    the same delivery id."""
    subscription = services.db.subscriptions.create("acme", "https://hooks.example/x", ["*"])
    deliveries = services.db.deliveries
    opened = deliveries.open("event:evt-1001", subscription, "order.created")
    deliveries.record_first_attempt(
        "event:evt-1001", subscription, "order.created", DeliveryStatus.DELIVERED, 204, None, 2.5
    )
    (record,) = deliveries.for_source("event:evt-1001")
    assert record["_id"] == opened["_id"]
    assert record["delivery_id"] == deliveries.delivery_id("event:evt-1001", subscription)
    assert (record["status"], record["attempts"], record["last_status_code"]) == ("delivered", 1, 204)
