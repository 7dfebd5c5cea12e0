"""The pooled HTTP session the AI client and the webhook sender share the shape of.

Only connection failures are retried inside a call (the request never left, so a retry is always safe);
everything else surfaces to the handler, whose task is retried by its policy. Redirects are never
followed by callers: a webhook that redirects to the metadata service must not get there.
"""

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from config.version import VERSION

CONNECT_TIMEOUT_SECONDS = 3.05
BODY_EXCERPT_CHARS = 300


def pooled_session(pool_size: int = 10, adapter_class: type[HTTPAdapter] = HTTPAdapter) -> requests.Session:
    session = requests.Session()
    retry = Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0, backoff_factor=0.2)
    adapter = adapter_class(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"fraiday/{VERSION}"
    return session


def excerpt(text: str) -> str:
    """A body trimmed for an error message or a delivery record (whitespace folded)."""
    folded = " ".join(text.split())
    return folded if len(folded) <= BODY_EXCERPT_CHARS else folded[:BODY_EXCERPT_CHARS] + "…"
