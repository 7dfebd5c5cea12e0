"""Webhook signatures: ``X-Fraiday-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.

The timestamp is signed with the body so a captured request cannot be replayed later; receivers reject
signatures older than a tolerance (five minutes by default). ``verify`` is what a receiver runs, kept here
so the documentation's snippet and our tests check the same thing.
"""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Fraiday-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class InvalidSignature(ValueError):
    pass


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a signature header as a receiver would; return its timestamp or raise InvalidSignature."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise InvalidSignature("no timestamp in the signature header") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_seconds:
        raise InvalidSignature("signature timestamp outside the tolerance")
    expected = _digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", [])):
        raise InvalidSignature("no matching v1 signature")
    return timestamp
