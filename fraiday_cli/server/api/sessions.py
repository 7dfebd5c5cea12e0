"""Chat sessions and their messages: a posted message is stored, then answered by the chat workflow."""

from typing import Any

from flask import Response, jsonify

from fraiday_cli.server.api.common import api_blueprint, session_or_404
from fraiday_cli.server.api.schemas import (
    Message,
    MessageAccepted,
    MessageCreate,
    MessagePage,
    MessagePath,
    MessageQuery,
    Session,
    SessionCreate,
    SessionPath,
    TaskAccepted,
)
from fraiday_cli.server.errors import ApiError, ErrorBody, not_found
from fraiday_cli.server.resources import resources
from handlers.services.database.chat import MessageStatus
from handlers.services.database.documents import object_id

blueprint = api_blueprint(__name__, "/sessions", "sessions", "Chat sessions and messages")


def session_model(session: dict[str, Any]) -> Session:
    return Session(
        session_id=str(session["_id"]),
        client_id=session["client_id"],
        metadata=session["metadata"],
        created_at=session["created_at"],
        updated_at=session["updated_at"],
    )


def message_model(message: dict[str, Any]) -> Message:
    reply_to = message.get("reply_to")
    return Message(
        message_id=str(message["_id"]),
        session_id=str(message["session_id"]),
        role=message["role"],
        kind=message["kind"],
        content=message.get("content"),
        suggestions=message.get("suggestions") or [],
        reply_to=str(reply_to) if reply_to else None,
        status=message["status"],
        error=message.get("error"),
        created_at=message["created_at"],
    )


def accepted(body: dict[str, Any]) -> tuple[Response, int]:
    return jsonify(body), 202


@blueprint.post("", responses={201: Session}, summary="Create a chat session")
def create_session(body: SessionCreate) -> tuple[Response, int]:
    session = resources().services.db.chat.create_session(body.client_id, body.metadata)
    return jsonify(session_model(session).model_dump(mode="json")), 201


@blueprint.get("/<session_id>", responses={200: Session}, summary="Read a chat session")
def get_session(path: SessionPath) -> Response:
    return jsonify(session_model(session_or_404(path.session_id)).model_dump(mode="json"))


@blueprint.post(
    "/<session_id>/messages",
    responses={202: MessageAccepted},
    summary="Post a user message; the chat workflow answers it",
)
def post_message(path: SessionPath, body: MessageCreate) -> tuple[Response, int]:
    res = resources()
    session = session_or_404(path.session_id)
    message = res.services.db.chat.add_user_message(session, body.content, body.suggestion_mode)
    message_id = str(message["_id"])
    try:
        task = res.tasks.enqueue(
            "chat:workflow",
            {
                "message_id": message_id,
                "session_id": path.session_id,
                "suggestion_mode": body.suggestion_mode,
            },
            task_id=f"chat-{message_id}",
        )
    except Exception:
        # The message is stored but will never be answered: say so on it rather than leave it pending.
        res.services.db.chat.set_status(message["_id"], MessageStatus.FAILED, error="could not be queued")
        raise
    return accepted(
        MessageAccepted(message_id=message_id, task_id=task.task_id, status="pending").model_dump()
    )


@blueprint.get("/<session_id>/messages", responses={200: MessagePage}, summary="List a session's messages")
def list_messages(path: SessionPath, query: MessageQuery) -> Response:
    session = session_or_404(path.session_id)
    after = object_id(query.after, "after") if query.after else None
    page = resources().services.db.chat.list_messages(session["_id"], query.limit + 1, after=after)
    more = len(page) > query.limit
    page = page[: query.limit]
    return jsonify(
        MessagePage(
            messages=[message_model(m) for m in page],
            next_after=str(page[-1]["_id"]) if more else None,
        ).model_dump(mode="json")
    )


@blueprint.post(
    "/<session_id>/messages/<message_id>/suggestions",
    responses={202: TaskAccepted, 409: ErrorBody},
    summary="Ask for reply suggestions to a user message",
)
def request_suggestions(path: MessagePath) -> tuple[Response, int]:
    res = resources()
    message = res.services.db.chat.get_message(path.message_id)
    if message is None or str(message["session_id"]) != path.session_id:
        raise not_found("message", path.message_id)
    if message["role"] != "user":
        raise ApiError(409, "conflict", "suggestions are made for user messages only")
    task = res.tasks.enqueue(
        "suggestion:workflow",
        {"message_id": path.message_id, "session_id": path.session_id},
        task_id=f"suggest-{path.message_id}",
    )
    return accepted(TaskAccepted(task_id=task.task_id, duplicate=task.duplicate).model_dump())
