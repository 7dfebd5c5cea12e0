"""A request id on every request: taken from ``X-Request-ID`` when the caller (or a proxy) sent a sane
one, made up otherwise; bound to every log line of the request, returned in the response header, and
carried into the jobs the request enqueues, so one id finds the request and its work in the logs."""

import re
import uuid
from contextlib import AbstractContextManager

from flask import Flask, Response, g, request

from config.logs import log_context

HEADER = "X-Request-ID"
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _bind() -> None:
    presented = request.headers.get(HEADER, "")
    g.request_id = presented if _ACCEPTED.fullmatch(presented) else uuid.uuid4().hex
    context: AbstractContextManager[None] = log_context(request_id=g.request_id)
    context.__enter__()
    g.log_context = context


def _expose(response: Response) -> Response:
    if "request_id" in g:
        response.headers[HEADER] = g.request_id
    return response


def _unbind(exc: BaseException | None) -> None:
    context = g.pop("log_context", None)
    if context is not None:
        context.__exit__(None, None, None)


def init_app(app: Flask) -> None:
    app.before_request(_bind)
    app.after_request(_expose)
    app.teardown_request(_unbind)
