"""Redis clients built from settings, where they are used and never at import.

Clients are created per process: the server builds them inside each gunicorn worker (after the fork), a
worker slot inside the slot.
"""

from typing import Any

import redis

from config import Settings

# A health probe or an API call must fail fast when a dependency is down, never hang.
REDIS_TIMEOUT_SECONDS = 1.5
MONGO_TIMEOUT_MS = 1500
MONGO_SOCKET_TIMEOUT_MS = 10_000
"""An API call's longest MongoDB operation: a stuck server answers 503 instead of holding the thread."""


SERVER_REDIS_CONNECTIONS = 64
"""Redis connections per server process. Its gevent workers serve up to 1,000 connections at once, and
redis-py's default pool opens one Redis connection per concurrent caller without limit."""


def _options(overrides: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
        "socket_timeout": REDIS_TIMEOUT_SECONDS,
        "health_check_interval": 30,
        "client_name": "fraiday",
    }
    options.update(overrides)
    return options


def redis_client(settings: Settings, **overrides: Any) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url, **_options(overrides))


def server_redis_client(settings: Settings) -> redis.Redis:
    """At most :data:`SERVER_REDIS_CONNECTIONS`; a request waits up to the Redis timeout for one, then
    fails like an outage (503) instead of opening more."""
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=SERVER_REDIS_CONNECTIONS,
        timeout=REDIS_TIMEOUT_SECONDS,
        **_options({}),
    )
    return redis.Redis(connection_pool=pool)
