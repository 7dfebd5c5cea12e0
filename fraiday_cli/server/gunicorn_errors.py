"""Gunicorn's own error answers in the JSON every other answer of the server uses.

Gunicorn answers the requests it cannot parse itself, before Flask sees them: a request line over 4,094
bytes (414), too many or too large headers (431), a malformed request line, header or chunk (400). It
writes those as HTML with ``gunicorn.util.write_error``, its one function for them, which
``Worker.handle_error`` calls after choosing the status. :func:`answer_errors_as_json` points that
function at :func:`write_json_error` in a worker process; the server does it from gunicorn's documented
``post_worker_init`` hook. It replaces a gunicorn internal, so gunicorn is pinned to the major version
this was written against; tests/test_library_contract.py fails by name if the hook moves, and
tests/server/test_gunicorn_edges.py gets an HTML answer back.
"""

import json
import socket
from typing import Any

from gunicorn import util


def error_code(reason: str) -> str:
    """``URI Too Long`` -> ``uri_too_long``, the codes Flask's answers use for the same statuses."""
    return reason.lower().replace(" ", "_").replace("-", "_")


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    body = json.dumps({"error": error_code(reason), "message": mesg or reason}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def answer_errors_as_json(worker: Any) -> None:
    """Gunicorn's ``post_worker_init`` hook: from here on this worker writes its errors as JSON."""
    util.write_error = write_json_error
