"""Every error the server answers is JSON: ``{"error": code, "message": text, "fields": {...}}``.

Request errors name each bad field; an outage of Redis or MongoDB is a fast 503 with ``Retry-After``;
anything unexpected is logged once with its traceback and answered 500 without one.
"""

import logging
from typing import Any

import pymongo.errors
import redis
from flask import Flask, Response, jsonify, request
from gunicorn.http.errors import NoMoreData, ParseException
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from handlers.payloads import field_errors

log = logging.getLogger("fraiday.server")

RETRY_AFTER_SECONDS = 5

REDIS_UNAVAILABLE: tuple[type[redis.RedisError], ...] = (
    redis.ConnectionError,  # and BusyLoadingError, while Redis loads its data after a restart
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a replica, during a failover
    redis.exceptions.MasterDownError,
    redis.exceptions.TryAgainError,
)
"""Redis cannot serve now, so retrying later helps: 503. Any other reply error (``no such key``,
``WRONGTYPE``) means our request or the data is wrong: a retry would get the same, so it is a 500."""


class ErrorBody(BaseModel):
    error: str
    message: str
    fields: dict[str, str] | None = None
    task_id: str | None = None


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.body = ErrorBody(error=error, message=message, fields=fields, **extra)


def not_found(what: str, value: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} {value!r} does not exist")


def invalid(fields: dict[str, str], message: str = "the request is invalid") -> ApiError:
    return ApiError(400, "invalid_request", message, fields)


def error_response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body.model_dump(exclude_none=True))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def validation_error(exc: ValidationError) -> Response:
    """flask-openapi3's hook for a request that fails its model: 400, naming each field."""
    fields = field_errors(exc)
    if "(body)" in fields:  # no body at all, where the route needs one
        fields["(body)"] = "a JSON object is required"
    return error_response(400, invalid(fields).body)


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.body, exc.headers)


def _http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    headers = dict(exc.get_headers()) if exc.code == 405 else {}
    headers.pop("Content-Type", None)
    return error_response(exc.code or 500, ErrorBody(error=code, message=exc.description or code), headers)


def _unreadable_body(exc: Exception) -> Response:
    """Gunicorn parses a chunked body only as the app reads it, so a malformed chunk or a client that
    stops mid-body surfaces inside a request: the client's fault, a 400."""
    body = ErrorBody(error="bad_request", message=f"the request body could not be read: {exc}")
    return error_response(400, body, {"Connection": "close"})


def _unavailable(dependency: str) -> Response:
    log.warning("%s unavailable during %s %s", dependency, request.method, request.path)
    body = ErrorBody(error="unavailable", message=f"{dependency} is unavailable, retry later")
    return error_response(503, body, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error during %s %s", request.method, request.path)
    return error_response(500, ErrorBody(error="internal", message="internal error"))


def register(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    for unreachable in REDIS_UNAVAILABLE:
        app.register_error_handler(unreachable, lambda exc: _unavailable("redis"))
    app.register_error_handler(pymongo.errors.ConnectionFailure, lambda exc: _unavailable("mongodb"))
    app.register_error_handler(
        pymongo.errors.ServerSelectionTimeoutError, lambda exc: _unavailable("mongodb")
    )
    app.register_error_handler(ParseException, _unreadable_body)
    app.register_error_handler(NoMoreData, _unreadable_body)
    app.register_error_handler(Exception, _unexpected)
