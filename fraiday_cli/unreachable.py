"""One line naming the service and its address when Redis or MongoDB cannot be reached.

A wrong ``REDIS_HOST`` is configuration, and configuration problems get one line, not an 80-line
traceback whose last line is all the operator needed. Commands do not catch these errors themselves:
the CLI application turns them into this line once, for every command.
"""

import pymongo.errors
import redis

from config import ConfigError, load_settings
from config.addresses import masked_url

# InvalidResponse: something answers at the address, but not in Redis's protocol (REDIS_PORT on an HTTP
# port, a TLS Redis without REDIS_TLS): as much a wrong address as a refused connection.
REDIS_ERRORS = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.InvalidResponse,
)
MONGO_ERRORS = (pymongo.errors.ConnectionFailure,)
UNREACHABLE = (*REDIS_ERRORS, *MONGO_ERRORS)


def reason(error: BaseException) -> str:
    """The first line of the driver's message (pymongo appends a whole topology description)."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0].split(", Timeout:")[0][:300]


def describe_unreachable(error: BaseException) -> str:
    service = "Redis" if isinstance(error, REDIS_ERRORS) else "MongoDB"
    why = reason(error)
    if isinstance(error, redis.exceptions.InvalidResponse):
        why = f"not a Redis server ({why})"
    try:
        settings = load_settings()
    except ConfigError:
        return f"cannot reach {service}: {why}"
    url = settings.redis_url if service == "Redis" else settings.mongodb_uri.get_secret_value()
    return f"cannot reach {service} at {masked_url(url)}: {why}"
