"""The one Redis URL builder, shared by the server, the workers and the CLI.

Credentials are percent-encoded here because every naive builder (pydantic's ``RedisDsn.build`` included)
pastes them in raw, and a password holding ``@``, ``/`` or ``#`` then silently points at another host.
"""

from urllib.parse import quote

MAX_PORT = 65535


def build_redis_url(
    *,
    host: str,
    port: int = 6379,
    db: int = 0,
    username: str | None = None,
    password: str | None = None,
    tls: bool = False,
) -> str:
    """Build a ``redis://`` (or ``rediss://``) URL that round-trips any username and password."""
    if not host or any(c in host for c in " /?#@"):
        raise ValueError(f"host must be a bare host name or address, got {host!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= MAX_PORT:
        raise ValueError(f"port must be an integer between 1 and {MAX_PORT}, got {port!r}")
    if isinstance(db, bool) or not isinstance(db, int) or db < 0:
        raise ValueError(f"db must be a non-negative integer, got {db!r}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    credentials = ""
    if username or password:
        credentials = quote(username or "", safe="")
        if password:
            credentials += ":" + quote(password, safe="")
        credentials += "@"
    scheme = "rediss" if tls else "redis"
    return f"{scheme}://{credentials}{host}:{port}/{db}"
