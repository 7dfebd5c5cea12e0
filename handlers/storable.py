"""What a storable JSON value is, defined once for the API and the worker.

Free-form fields (a session's ``metadata``, an event's ``payload``, a message's text) end up in MongoDB
documents and Redis jobs. Some values cannot be stored there at all: an object key starting with ``$`` or
containing ``.`` (MongoDB operators and paths), an integer beyond 64 bits, NaN or Infinity, a lone UTF-16
surrogate (not encodable as UTF-8), a NUL character. Others cost without bound: JSON nested a thousand
deep (a ``RecursionError`` in every encoder), tens of thousands of keys (47 s to store 60,000). Every
payload and API request model checks each of its fields against this one definition (see
:class:`handlers.payloads.Payload`), so the API answers 400 naming the field for exactly what the worker
would refuse, and a job written to Redis by anyone else is refused by the worker the same way.

The walk is iterative and stops at the first problem, so a hostile value costs at most its size.
"""

import json
import math
from typing import Any

MAX_DEPTH = 20
"""Levels of objects and arrays inside a field (MongoDB itself allows 100 for a whole document)."""

MAX_KEYS = 1_000
"""Object keys in one field's value, at every level together."""

MAX_VALUES = 10_000
"""Values (scalars, objects and arrays) in one field's value, at every level together."""

MAX_BYTES = 256 * 1024
"""One field's value encoded as JSON (UTF-8)."""

MAX_KEY_CHARS = 256

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class NotStorable(ValueError):
    """The value cannot be stored as it is; the message says where and why."""


def check_text(text: str, where: str = "") -> None:
    """Valid Unicode without NUL: what MongoDB, Redis JSON and every UTF-8 encoder accept."""
    if "\x00" in text:
        raise NotStorable(f"{_at(where)}must not contain the NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NotStorable(f"{_at(where)}is not valid Unicode (a lone surrogate)") from None


def check_key(key: object, where: str) -> None:
    if not isinstance(key, str):
        raise NotStorable(f"{_at(where)}object keys must be strings")
    shown = repr(key[:40])
    if "\x00" in key:
        raise NotStorable(f"{_at(where)}key {shown} must not contain the NUL character")
    if key.startswith("$"):
        raise NotStorable(f"{_at(where)}key {shown} must not start with '$'")
    if "." in key:
        raise NotStorable(f"{_at(where)}key {shown} must not contain '.'")
    if len(key) > MAX_KEY_CHARS:
        raise NotStorable(f"{_at(where)}key {shown}... is longer than {MAX_KEY_CHARS} characters")
    check_text(key, where)


def check_storable(value: Any) -> None:
    """Raise :class:`NotStorable` unless ``value`` is a JSON value that fits the limits above."""
    keys = values = 0
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        values += 1
        if values > MAX_VALUES:
            raise NotStorable(f"has more than {MAX_VALUES} values in all")
        if isinstance(item, dict):
            if depth >= MAX_DEPTH:
                raise NotStorable(f"{_at(where)}is nested more than {MAX_DEPTH} levels deep")
            keys += len(item)
            if keys > MAX_KEYS:
                raise NotStorable(f"has more than {MAX_KEYS} object keys in all")
            for key, child in item.items():
                check_key(key, where)
                stack.append((child, f"{where}.{key}" if where else key, depth + 1))
        elif isinstance(item, list):
            if depth >= MAX_DEPTH:
                raise NotStorable(f"{_at(where)}is nested more than {MAX_DEPTH} levels deep")
            stack.extend((child, f"{where}[{index}]", depth + 1) for index, child in enumerate(item))
        else:
            check_scalar(item, where)
    if isinstance(value, dict | list) and len(json.dumps(value, ensure_ascii=False).encode()) > MAX_BYTES:
        raise NotStorable(f"is larger than {MAX_BYTES // 1024} KiB as JSON")


def check_scalar(item: object, where: str) -> None:
    if isinstance(item, str):
        check_text(item, where)
    elif isinstance(item, bool) or item is None:
        return
    elif isinstance(item, int):
        if not INT64_MIN <= item <= INT64_MAX:
            raise NotStorable(f"{_at(where)}integer is outside the 64-bit range")
    elif isinstance(item, float):
        if not math.isfinite(item):
            raise NotStorable(f"{_at(where)}must be a finite number (not NaN or Infinity)")
    else:
        raise NotStorable(f"{_at(where)}is not a JSON value ({type(item).__name__})")


def _at(where: str) -> str:
    return f"at {where}: " if where else ""
