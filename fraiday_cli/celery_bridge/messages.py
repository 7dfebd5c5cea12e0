"""Reading Celery task messages as kombu's Redis transport stores them, without ever unpickling.

A message is a JSON envelope: protocol 2 keeps the task name and id in ``headers`` and a body that
decodes to ``[args, kwargs, embed]``; protocol 1 keeps everything in a body dict. Only JSON bodies are
accepted: anything else (pickle, yaml, msgpack) is refused by its content type, before decoding.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

JSON_CONTENT_TYPE = "application/json"


class BadMessage(ValueError):
    """The message cannot become a task; ``reason`` says why, for the dead-letter list."""


@dataclass(frozen=True)
class LegacyTask:
    name: str
    task_id: str
    args: list[Any]
    kwargs: dict[str, Any]
    eta: datetime | None = None
    expires: datetime | None = None


def _time(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadMessage(f"{field} is not an ISO 8601 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # Celery's naive times are UTC


def _body(envelope: dict[str, Any]) -> Any:
    content_type = envelope.get("content-type")
    if content_type != JSON_CONTENT_TYPE:
        raise BadMessage(f"unsupported serializer {content_type!r}: only JSON task messages are accepted")
    raw = envelope.get("body")
    if not isinstance(raw, str):
        raise BadMessage("the body is missing")
    encoding = (envelope.get("properties") or {}).get("body_encoding")
    if encoding == "base64":
        try:
            raw = base64.b64decode(raw, validate=True).decode(envelope.get("content-encoding") or "utf-8")
        except (binascii.Error, UnicodeDecodeError, LookupError):
            raise BadMessage("the body is not valid base64 text") from None
    elif encoding not in (None, ""):
        raise BadMessage(f"unsupported body encoding {encoding!r}")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, RecursionError):  # RecursionError: nested thousands deep
        raise BadMessage("the body is not valid JSON") from None


def parse(raw: bytes | str) -> LegacyTask:
    try:
        envelope = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise BadMessage("not a Celery message: the envelope is not JSON") from None
    if not isinstance(envelope, dict):
        raise BadMessage("not a Celery message: the envelope is not an object")
    headers = envelope.get("headers") or {}
    body = _body(envelope)
    if "task" in headers:  # protocol 2
        if not (
            isinstance(body, list)
            and len(body) == 3
            and isinstance(body[0], list)
            and isinstance(body[1], dict)
        ):
            raise BadMessage("a protocol 2 body must be [args, kwargs, embed]")
        name, task_id, args, kwargs = headers["task"], headers.get("id"), body[0], body[1]
        eta, expires = headers.get("eta"), headers.get("expires")
    elif isinstance(body, dict) and "task" in body:  # protocol 1
        name, task_id = body["task"], body.get("id")
        args, kwargs = body.get("args") or [], body.get("kwargs") or {}
        eta, expires = body.get("eta"), body.get("expires")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise BadMessage("protocol 1 args must be a list and kwargs an object")
    else:
        raise BadMessage("not a Celery task message: no task name")
    if not isinstance(name, str) or not isinstance(task_id, str) or not task_id:
        raise BadMessage("the task name or id is missing")
    return LegacyTask(name, task_id, args, kwargs, _time(eta, "eta"), _time(expires, "expires"))
