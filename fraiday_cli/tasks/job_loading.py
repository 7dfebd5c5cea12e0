"""Loading job ids and hashes with RQ, when anyone who can write to Redis may have written them.

RQ's ``Job.restore`` parses each field it finds and fails the way that field's parser does: a
``ValueError`` for a date, a ``KeyError`` for a missing key, an ``AssertionError`` for a ``timeout`` that
is not a number, and whatever a later RQ adds. Every reader (``fraiday jobs``, ``requeue``, ``purge``, the
API's task status, the dashboard) must show such a hash as unreadable rather than crash on it, so they all
load through :func:`load_job`, which turns any failure but "no such job" and a Redis error into one
exception. Likewise RQ decodes every id it reads from a queue or registry as UTF-8, and one id that is
not fails every listing of that queue or registry: :func:`readable_ids` leaves such ids out.
"""

from collections.abc import Iterable
from typing import Any, cast

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job

from handlers.wire_format import MAX_DATA_BYTES, SERIALIZER, ZLIB_MAX_RATIO, check_data_size, is_wrong_type


def readable_ids(raw: Any) -> list[str]:
    """The ids that are UTF-8, as text; another was written by hand and names no job, so it is left out.
    ``raw`` is a list reply of ids, as redis-py returns it."""
    ids = []
    for item in cast(Iterable[bytes | str], raw):
        try:
            ids.append(item.decode() if isinstance(item, bytes) else item)
        except UnicodeDecodeError:
            continue
    return ids


class Unloadable(Exception):
    """A job hash RQ cannot load (a field it cannot parse): written by hand, never by RQ."""


def load_job(connection: redis.Redis, job_id: str) -> Job:
    """The job, read with the JSON serializer; ``NoSuchJobError`` when there is none, :class:`Unloadable`
    when its hash cannot be loaded."""
    try:
        if cast(int, connection.hstrlen(Job.key_for(job_id), "data")) * ZLIB_MAX_RATIO > MAX_DATA_BYTES:
            check_data_size(
                cast(bytes, connection.hget(Job.key_for(job_id), "data"))
            )  # before RQ inflates it
        return Job.fetch(job_id, connection=connection, serializer=SERIALIZER)
    except NoSuchJobError:
        if connection.exists(Job.key_for(job_id)):  # RQ says the same of a hash without data
            raise Unloadable("its hash has no data") from None
        raise
    except redis.ResponseError as error:
        if is_wrong_type(error):
            raise Unloadable("its key is not a hash") from None
        raise
    except redis.RedisError:
        raise
    except Exception as error:  # any field RQ fails to parse, in any way it fails
        raise Unloadable(f"{type(error).__name__}: {error}") from None
