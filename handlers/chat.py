"""The chat and suggestion workflows: a user message in, an assistant reply or suggestions out, a webhook.

Idempotent by construction: the answer is stored under a unique key per (message, kind), so a second run
finds it and does not ask the AI service again, and webhook delivery records make the second run send
only what the first did not.
"""

from collections.abc import Mapping
from typing import Any

from handlers.errors import PermanentError
from handlers.notify import envelope, notify
from handlers.payloads import ChatWorkflowPayload, SuggestionWorkflowPayload
from handlers.registry import TaskContext
from handlers.services import Services
from handlers.services.ai_client import ContextMessage
from handlers.services.database.chat import MessageKind, MessageStatus

REPLY_EVENT = "chat.response"
SUGGESTION_EVENT = "chat.suggestion"


class MessageNotFound(PermanentError):
    pass


def chat_workflow(payload: ChatWorkflowPayload, services: Services, task: TaskContext) -> dict[str, Any]:
    return answer_message(services, task, payload.message_id, payload.session_id, payload.suggestion_mode)


def suggestion_workflow(
    payload: SuggestionWorkflowPayload, services: Services, task: TaskContext
) -> dict[str, Any]:
    return answer_message(services, task, payload.message_id, payload.session_id, suggestion_mode=True)


def answer_message(
    services: Services, task: TaskContext, message_id: str, session_id: str, suggestion_mode: bool
) -> dict[str, Any]:
    chat = services.db.chat
    kind = MessageKind.SUGGESTIONS if suggestion_mode else MessageKind.REPLY
    message, answer, stored_now = _message_and_answer(services, task, message_id, session_id, kind)
    if message["status"] != MessageStatus.COMPLETED:
        chat.set_status(message["_id"], MessageStatus.COMPLETED)
    event_type = SUGGESTION_EVENT if suggestion_mode else REPLY_EVENT
    data = {
        "session_id": session_id,
        "message_id": message_id,
        "reply_message_id": str(answer["_id"]),
        "content": answer["content"],
        "suggestions": answer["suggestions"],
    }
    deliveries = notify(
        services,
        task,
        source=f"{kind.value}:{message_id}",
        client_id=message["client_id"],
        event_type=event_type,
        body=envelope(str(answer["_id"]), event_type, answer["created_at"], data),
        stored_now=stored_now,
    )
    return {"reply_message_id": str(answer["_id"]), "deliveries": deliveries}


def _message_and_answer(
    services: Services, task: TaskContext, message_id: str, session_id: str, kind: MessageKind
) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """The user message as it was, and its answer: the stored one, or the AI service's, stored now (the
    third value says which)."""
    chat = services.db.chat
    running: dict[str, Any] = {"task_id": task.task_id, "attempts": task.attempt}
    # The usual case, a pending message, in one round trip instead of three (read, look up, mark).
    claimed = chat.claim_pending(message_id, session_id, **running)
    if claimed is not None:
        return claimed, *_ask(services, task, claimed, kind)
    message = chat.get_message(message_id)
    if message is None or str(message["session_id"]) != session_id or message["role"] != "user":
        raise MessageNotFound(f"no user message {message_id} in session {session_id}")
    answer = chat.find_assistant(message["_id"], kind)
    if answer is not None:
        return message, answer, False
    chat.set_status(message["_id"], MessageStatus.PROCESSING, **running)
    return message, *_ask(services, task, message, kind)


def _ask(
    services: Services, task: TaskContext, message: Mapping[str, Any], kind: MessageKind
) -> tuple[dict[str, Any], bool]:
    """Ask the AI service and store its answer (and whether this call stored it: a racing run may have
    stored one first); keep the user message's status telling the truth (the caller has marked it
    processing)."""
    chat = services.db.chat
    context = [
        ContextMessage(m["role"], m["content"], m["created_at"].isoformat())
        for m in chat.session_context(message, services.settings.context_messages)
    ]
    ids = (str(message["session_id"]), str(message["_id"]), message["content"], context)
    try:
        if kind is MessageKind.SUGGESTIONS:
            content, suggestions = None, services.ai.suggestions(*ids)
        else:
            content, suggestions = services.ai.reply(*ids), []
    except Exception as exc:
        final = isinstance(exc, PermanentError) or task.is_last_attempt
        status = MessageStatus.FAILED if final else MessageStatus.PENDING
        error = services.redactor.error(f"{exc}" if final else f"attempt {task.attempt}: {exc}")
        chat.set_status(message["_id"], status, error=error)
        raise
    return chat.save_assistant(message, kind, content, suggestions)
