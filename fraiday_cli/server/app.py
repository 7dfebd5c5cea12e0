"""The app factory: gunicorn and the tests build the app the same way, and nothing connects at import.

flask-openapi3 validates each request against the route's pydantic models and generates the OpenAPI
document from the same models, so the spec cannot drift from what the code accepts.
"""

import json
import logging
from functools import partial

from flask import Response, current_app, jsonify, redirect, request
from flask_openapi3.models.info import Info
from flask_openapi3.openapi import OpenAPI
from flask_openapi3.types import SecuritySchemesDict
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.wrappers import Response as BaseResponse

from config import Settings
from config.version import VERSION
from fraiday_cli.server import dashboard, errors, health, metrics, request_ids, request_spans
from fraiday_cli.server.api import events, sessions, syncs, tasks, webhooks
from fraiday_cli.server.auth import API_PREFIX, require_api_key
from fraiday_cli.server.resources import EXTENSION_KEY, ServerResources
from handlers.registry import Registry
from handlers.task_types import REGISTRY

log = logging.getLogger("fraiday.server")

BEARER: SecuritySchemesDict = {"bearer": {"type": "http", "scheme": "bearer"}}


def create_app(settings: Settings, registry: Registry = REGISTRY) -> OpenAPI:
    app = OpenAPI(
        "fraiday",
        info=Info(title="Fraiday API", version=VERSION),
        security_schemes=BEARER,
        validation_error_status=400,
        validation_error_callback=errors.validation_error,
        doc_prefix="/docs",
        doc_url="/openapi.json",
    )
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # Werkzeug answers a path with doubled slashes by a redirect with an HTML body, which Flask sends as it
    # is, past the JSON error handlers: an API path is spelled one way, anything else is a JSON 404.
    app.url_map.merge_slashes = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION_KEY] = ServerResources(settings, registry.with_queues(settings.task_queues))
    if not settings.api_keys:
        log.warning("FRAIDAY_API_KEYS is empty: every /api/v1 request will be refused with 401")
    request_spans.init_app(app)
    request_ids.init_app(app)
    metrics.init_app(app)
    app.before_request(partial(require_api_key, settings))
    app.before_request(require_json_body)
    errors.register(app)
    app.register_blueprint(health.blueprint)
    dashboard.init_app(app)
    for module in (sessions, events, syncs, webhooks, tasks):
        app.register_api(module.blueprint)
    app.add_url_rule("/openapi.json", "openapi_json", lambda: jsonify(current_app.api_doc))  # type: ignore[attr-defined]
    app.add_url_rule("/docs", "docs_root", lambda: redirect("/docs/swagger"))
    return app


def require_json_body() -> Response | BaseResponse | None:
    """A body on the API must be a JSON object: 415 for another media type, 400 for broken JSON, 413 for
    too large a body, chunked ones included (werkzeug cuts those at the limit without saying so)."""
    if not request.path.startswith(API_PREFIX) or request.method not in ("POST", "PUT", "PATCH"):
        return None
    if not request.content_length and not request.data:
        return None
    if not request.is_json:
        raise UnsupportedMediaType("the body must be application/json")
    data = request.get_data(cache=True)
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and len(data) >= limit:
        raise RequestEntityTooLarge(f"the body must be smaller than {limit} bytes")
    try:
        parsed = json.loads(data, parse_constant=_not_json)
    except RecursionError:
        raise errors.invalid({"(body)": "is nested too deeply"}, "malformed JSON body") from None
    except NotAJsonNumber as exc:
        raise errors.invalid({"(body)": f"is not valid JSON ({exc})"}, "malformed JSON body") from None
    except ValueError:  # undecodable bytes or broken JSON
        raise errors.invalid({"(body)": "is not valid JSON"}, "malformed JSON body") from None
    if not isinstance(parsed, dict):
        raise errors.invalid({"(body)": "must be a JSON object"})
    return None


class NotAJsonNumber(ValueError):
    """Python's json module accepts NaN and Infinity; JSON, MongoDB's documents and our answers do not."""


def _not_json(constant: str) -> None:
    raise NotAJsonNumber(f"{constant} is not a JSON number")
