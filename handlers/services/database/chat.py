"""Chat sessions and messages: user messages, assistant replies and suggestions, each with a status.

An assistant message carries ``reply_key`` (``<kind>:<user message id>``) under a unique index: storing
the reply of a retried task finds the first one instead of adding a second.

A session's messages are ordered by ``_id``, so each new one gets an id after the session's latest
(:meth:`ChatStore._next_id`): ObjectIds follow time only across seconds, and within one second ids made
by different processes (the server storing a message, a worker its reply) follow each process's random
bytes, which listed a reply before its message and left it out of the next message's context.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

from handlers.services.database.documents import Document, id_after, insert_once, object_id, utcnow


class MessageStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class MessageKind(StrEnum):
    MESSAGE = "message"
    REPLY = "reply"
    SUGGESTIONS = "suggestions"


class ChatStore:
    def __init__(self, sessions: Collection[Document], messages: Collection[Document]) -> None:
        self.sessions = sessions
        self.messages = messages

    def create_session(self, client_id: str, metadata: Mapping[str, Any] | None = None) -> Document:
        now = utcnow()
        session = {
            "client_id": client_id,
            "metadata": dict(metadata or {}),
            "created_at": now,
            "updated_at": now,
        }
        session["_id"] = self.sessions.insert_one(session).inserted_id
        return session

    def get_session(self, session_id: str | ObjectId) -> Document | None:
        return self.sessions.find_one({"_id": object_id(session_id, "session_id")})

    def add_user_message(self, session: Mapping[str, Any], content: str, suggestion_mode: bool) -> Document:
        now = utcnow()
        message = {
            "session_id": session["_id"],
            "client_id": session["client_id"],
            "role": "user",
            "kind": MessageKind.MESSAGE.value,
            "content": content,
            "suggestion_mode": suggestion_mode,
            "status": MessageStatus.PENDING.value,
            "error": None,
            "created_at": now,
            "updated_at": now,
            "_id": self._next_id(session["_id"]),
        }
        self.messages.insert_one(message)
        self.sessions.update_one({"_id": session["_id"]}, {"$set": {"updated_at": now}})
        return message

    def _next_id(self, session_id: ObjectId) -> ObjectId:
        latest = self.messages.find_one({"session_id": session_id}, {"_id": 1}, sort=[("_id", DESCENDING)])
        return id_after(latest["_id"] if latest else None)

    def claim_pending(self, message_id: str, session_id: str, **fields: Any) -> Document | None:
        """Mark a pending user message of the session processing (with ``fields``) in one round trip, and
        return it as it was; None when it is not one (answered, being answered, failed, or not there).

        A pending message has no stored answer, so its handler asks at once without looking for one:
        an answer is stored only while its message is processing, and its run then marks it completed.
        The exception is two runs racing (one stores an answer, the other fails and puts the message
        back to pending): the next run then asks again, and :meth:`save_assistant` keeps the first.
        """
        query = {
            "_id": object_id(message_id, "message_id"),
            "session_id": object_id(session_id, "session_id"),
            "role": "user",
            "status": MessageStatus.PENDING.value,
        }
        update = {"status": MessageStatus.PROCESSING.value, "error": None, "updated_at": utcnow(), **fields}
        return self.messages.find_one_and_update(query, {"$set": update})

    def get_message(self, message_id: str | ObjectId) -> Document | None:
        return self.messages.find_one({"_id": object_id(message_id, "message_id")})

    def list_messages(
        self, session_id: ObjectId, limit: int, after: ObjectId | None = None
    ) -> list[Document]:
        """A page of the session's messages, oldest first; ``after`` is the last id of the previous page."""
        query: Document = {"session_id": session_id}
        if after is not None:
            query["_id"] = {"$gt": after}
        return list(self.messages.find(query).sort("_id", ASCENDING).limit(limit))

    def session_context(self, message: Mapping[str, Any], limit: int) -> list[Document]:
        """The conversation before ``message``, oldest first: at most ``limit`` user messages and replies."""
        if limit == 0:
            return []
        query = {
            "session_id": message["session_id"],
            "kind": {"$in": [MessageKind.MESSAGE.value, MessageKind.REPLY.value]},
            "_id": {"$lt": message["_id"]},
            "status": {"$ne": MessageStatus.FAILED.value},
        }
        newest = list(self.messages.find(query).sort("_id", DESCENDING).limit(limit))
        return newest[::-1]

    def set_status(
        self, message_id: ObjectId, status: MessageStatus, error: str | None = None, **fields: Any
    ) -> None:
        update = {"status": status.value, "error": error, "updated_at": utcnow(), **fields}
        self.messages.update_one({"_id": message_id}, {"$set": update})

    def find_assistant(self, reply_to: ObjectId, kind: MessageKind) -> Document | None:
        return self.messages.find_one({"reply_key": f"{kind.value}:{reply_to}"})

    def save_assistant(
        self, reply_to: Mapping[str, Any], kind: MessageKind, content: str | None, suggestions: list[str]
    ) -> tuple[Document, bool]:
        """Store the reply (or suggestions) to ``reply_to`` once; a second call returns the first. Also
        says whether this call stored it: nothing was ever delivered of an answer stored just now."""
        now = utcnow()
        document = {
            "session_id": reply_to["session_id"],
            "client_id": reply_to["client_id"],
            "role": "assistant",
            "kind": kind.value,
            "reply_to": reply_to["_id"],
            "content": content,
            "suggestions": suggestions,
            "status": MessageStatus.COMPLETED.value,
            "error": None,
            "created_at": now,
            "updated_at": now,
            "_id": self._next_id(reply_to["session_id"]),
        }
        return insert_once(self.messages, {"reply_key": f"{kind.value}:{reply_to['_id']}"}, document)
