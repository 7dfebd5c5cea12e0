"""Bearer API keys on /api/v1, compared in constant time against every configured key.

No key configured means no access, not open access: a server started without ``FRAIDAY_API_KEYS``
answers 401 on the API (and says so in its log) while its health endpoints keep working.
"""

import hmac

from flask import request

from config import Settings
from fraiday_cli.server.errors import ApiError

API_PREFIX = "/api/v1"


def require_api_key(settings: Settings) -> None:
    if not request.path.startswith(API_PREFIX + "/") and request.path != API_PREFIX:
        return
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    candidate = presented.strip().encode()
    matched = False
    for key in settings.api_keys:
        # Every key is compared, so timing does not reveal which (or whether any) key matched early.
        matched |= hmac.compare_digest(candidate, key.get_secret_value().encode())
    if scheme.lower() != "bearer" or not candidate or not matched:
        raise ApiError(
            401,
            "unauthorized",
            "missing or invalid API key (Authorization: Bearer <key>)",
            headers={"WWW-Authenticate": 'Bearer realm="fraiday"'},
        )
