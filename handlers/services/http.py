"""The pooled HTTP session the AI client and the webhook sender share the shape of.

Only connection failures are retried inside a call (the request never left, so a retry is always safe);
everything else surfaces to the handler, whose task is retried by its policy. Redirects are never
followed by callers: a webhook that redirects to the metadata service must not get there.
"""

import os
import urllib.request
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from config.version import VERSION

CONNECT_TIMEOUT_SECONDS = 3.05
BODY_EXCERPT_CHARS = 300
MAX_BODY_READ_BYTES = 64 * 1024
"""What is read of an answer's body whose content we do not use beyond an excerpt (a webhook receiver's)."""


def pooled_session(pool_size: int = 10, adapter_class: type[HTTPAdapter] = HTTPAdapter) -> requests.Session:
    session = requests.Session()
    retry = Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0, backoff_factor=0.2)
    adapter = adapter_class(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"fraiday/{VERSION}"
    # No cookie is ever kept: the session serves every job of a slot, for every client, and a cookie a
    # receiver sets for one client's webhook would go out with the next client's webhook to that host.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    if not urllib.request.getproxies() and not _netrc_exists():
        _read_environment_once(session)
    return session


def _read_environment_once(session: requests.Session) -> None:
    """Stop requests from reading the environment again on every call.

    With ``trust_env`` on, each call scans every environment variable twice for proxy settings, reads the
    CA bundle variables and looks for a ``~/.netrc``: about 0.3 ms of CPU per call with a hundred
    variables (Kubernetes adds several per service in the namespace), and a chat job makes two calls.
    Without a proxy or a netrc file none of that can change a request, so the bundle is read here, once.
    With either configured, requests goes on doing it per call (``NO_PROXY`` and netrc match per host).
    """
    session.trust_env = False
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def _netrc_exists() -> bool:
    """Where requests looks for one: ``$NETRC``, else ``~/.netrc`` or ``~/_netrc``."""
    named = os.environ.get("NETRC")
    candidates = [named] if named is not None else ["~/.netrc", "~/_netrc"]
    return any(Path(candidate).expanduser().exists() for candidate in candidates)


def body_start(response: requests.Response, limit: int = MAX_BODY_READ_BYTES) -> str:
    """The first ``limit`` bytes of a streamed answer's body, decoded; the rest is never read.

    A receiver chosen by an API caller can answer with a body of gigabytes: read whole, as requests does
    without ``stream=True``, it takes that much memory in the worker. A body read to its end leaves the
    connection to the pool; one cut short is closed with the response.
    """
    body = bytearray()
    for chunk in response.iter_content(chunk_size=8192):
        body += chunk
        if len(body) >= limit:
            break
    try:
        return body[:limit].decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know, named by the answer's Content-Type
        return body[:limit].decode("utf-8", errors="replace")


def excerpt(text: str) -> str:
    """A body trimmed for an error message or a delivery record (whitespace folded)."""
    folded = " ".join(text.split())
    return folded if len(folded) <= BODY_EXCERPT_CHARS else folded[:BODY_EXCERPT_CHARS] + "…"
