"""``GET /metrics`` for the server pod, and the request count and duration of every route.

Routes are labelled by their rule (``/api/v1/sessions/<session_id>``), never the raw path, so a
scanner trying random URLs cannot blow up the number of series.
"""

import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import Counter, Histogram

from fraiday_cli.observability.metrics import exposition
from fraiday_cli.server.resources import resources

HTTP_REQUESTS = Counter("fraiday_http_requests", "API requests answered.", ["method", "route", "status"])
HTTP_REQUEST_DURATION = Histogram(
    "fraiday_http_request_duration_seconds", "Time to answer an API request.", ["method", "route"]
)

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def metrics() -> Response:
    res = resources()
    body = exposition(res.redis, res.registry.queues)
    return Response(body, mimetype="text/plain", headers={"Content-Type": "text/plain; version=0.0.4"})


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _record(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
    HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    started = g.get("request_started")
    if started is not None:
        HTTP_REQUEST_DURATION.labels(request.method, route).observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_record)
    app.register_blueprint(blueprint)
