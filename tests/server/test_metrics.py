"""The server's /metrics: requests by route, and the queue-depth gauge."""

from flask.testing import FlaskClient

from tests.observability.test_operations import sample
from tests.server.conftest import AUTH


def test_server_metrics_count_requests_by_route(api: FlaskClient) -> None:
    def count() -> float:
        text = api.get("/metrics").get_data(as_text=True)
        return sample(
            text, "fraiday_http_requests_total", method="POST", route="/api/v1/sessions", status="201"
        )

    before = count()
    for _ in range(3):
        api.post("/api/v1/sessions", json={"client_id": "acme"}, headers=AUTH)
    text = api.get("/metrics").get_data(as_text=True)
    assert count() - before == 3
    assert "fraiday_http_request_duration_seconds_bucket" in text
    assert 'fraiday_queue_depth{queue="chat_workflow",state="pending"}' in text
    assert api.get("/metrics").status_code == 200  # no key needed, like /health
