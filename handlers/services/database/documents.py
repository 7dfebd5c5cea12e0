"""What every store shares: id parsing (a malformed id is a clear, permanent error), UTC times, and
insert-once under a unique key."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId as BsonInvalidId
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from handlers.errors import PermanentError

Document = dict[str, Any]
"""A MongoDB document as pymongo returns it."""


class InvalidId(PermanentError):
    def __init__(self, what: str, value: object) -> None:
        super().__init__(f"{what} {value!r} is not a valid id (24 hexadecimal digits)")
        self.what = what


def object_id(value: str | ObjectId, what: str) -> ObjectId:
    if isinstance(value, ObjectId):
        return value
    try:
        return ObjectId(value)
    except (BsonInvalidId, TypeError):
        raise InvalidId(what, value) from None


def id_after(previous: ObjectId | None) -> ObjectId:
    """A new id that sorts after ``previous``: a fresh one when it does, else ``previous`` plus one."""
    fresh = ObjectId()
    if previous is None or fresh > previous:
        return fresh
    return ObjectId((int.from_bytes(previous.binary, "big") + 1).to_bytes(12, "big"))


def utcnow() -> datetime:
    """Now, timezone-aware, at the millisecond precision BSON stores (so a read equals what was written)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def insert_once(
    collection: Collection[Document], key: Mapping[str, Any], document: Mapping[str, Any]
) -> tuple[Document, bool]:
    """Insert ``document`` under the unique ``key`` unless one exists; return the stored one and whether
    it is new. A plain insert rather than an upsert with ``$setOnInsert``, which FerretDB 1.x answers
    without its null and empty-list fields."""
    new = {**document, **key}
    try:
        collection.insert_one(new)
    except DuplicateKeyError:
        stored = collection.find_one(dict(key))
        if stored is None:  # deleted between the two calls: the caller's retry will insert it
            raise
        return stored, False
    return new, True
