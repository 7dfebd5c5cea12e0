"""The dashboard's CSRF token: an action needs proof that it was posted from a page the dashboard served.

A browser sends Basic credentials with any request to the server, including a form another site makes
it post, so credentials alone cannot tell an operator's click from a forged one. The token is an HMAC of
a fixed label keyed by the API key the request presents: only a holder of that key, or a page the
dashboard served to one, knows it, and other sites cannot read our pages. Deriving it from the key needs
no session or server-side secret, so it holds across gunicorn workers and replicas, and it changes when
the key is rotated.
"""

import hashlib
import hmac

from flask import request

from fraiday_cli.server.auth import presented_key

FIELD = "csrf_token"
LABEL = b"fraiday dashboard csrf v1"


def token() -> str:
    """The token for the key of the current request (which authentication has already checked)."""
    return hmac.new(presented_key().encode(), LABEL, hashlib.sha256).hexdigest()


def is_valid() -> bool:
    sent = request.form.get(FIELD, "")
    return hmac.compare_digest(sent.encode(), token().encode())
