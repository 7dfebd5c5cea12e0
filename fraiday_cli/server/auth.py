"""API keys on /api/v1 and /dashboard, compared in constant time against every configured key.

The API takes ``Authorization: Bearer <key>``; the dashboard also takes Basic auth with the key as the
password, because that is what a browser can send. No key configured means no access, not open access:
a server started without ``FRAIDAY_API_KEYS`` answers 401 there (and says so in its log) while its
health and metrics endpoints keep working.
"""

import base64
import binascii
import hmac

from flask import request

from config import Settings
from fraiday_cli.server.errors import ApiError

API_PREFIX = "/api/v1"
DASHBOARD_PREFIX = "/dashboard"


def _under(prefix: str) -> bool:
    return request.path == prefix or request.path.startswith(prefix + "/")


def presented_key() -> str:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic" and _under(DASHBOARD_PREFIX):
        try:
            return base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def require_api_key(settings: Settings) -> None:
    dashboard = _under(DASHBOARD_PREFIX)
    if not (_under(API_PREFIX) or dashboard):
        return
    candidate = presented_key().encode()
    matched = False
    for key in settings.api_keys:
        # Every key is compared, so timing does not reveal which (or whether any) key matched early.
        matched |= hmac.compare_digest(candidate, key.get_secret_value().encode())
    if not candidate or not matched:
        challenge = 'Basic realm="fraiday dashboard"' if dashboard else 'Bearer realm="fraiday"'
        raise ApiError(
            401,
            "unauthorized",
            "missing or invalid API key (Authorization: Bearer <key>)",
            headers={"WWW-Authenticate": challenge},
        )
