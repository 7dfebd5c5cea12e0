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
from handlers.services.database.documents import Document, object_id
from handlers.side_reads import SideRead, SideReads

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
    event_type = SUGGESTION_EVENT if suggestion_mode else REPLY_EVENT
    with SideReads() as side:
        message, answer, stored_now, subscriptions = _message_and_answer(
            services, task, side, message_id, session_id, kind, event_type
        )
        if message["status"] != MessageStatus.COMPLETED:
            chat.set_status(message["_id"], MessageStatus.COMPLETED)
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
            subscriptions=subscriptions.result() if subscriptions is not None else None,
        )
    return {"reply_message_id": str(answer["_id"]), "deliveries": deliveries}


def _message_and_answer(
    services: Services,
    task: TaskContext,
    side: SideReads,
    message_id: str,
    session_id: str,
    kind: MessageKind,
    event_type: str,
) -> tuple[Document, Document, bool, SideRead[list[Document]] | None]:
    """The user message as it was, and its answer: the stored one, or the AI service's, stored now (the
    third value says which); when asked now, the subscriptions to the answer's event, read meanwhile."""
    chat = services.db.chat
    running: dict[str, Any] = {"task_id": task.task_id, "attempts": task.attempt}
    ids = {"_id": object_id(message_id, "message_id"), "session_id": object_id(session_id, "session_id")}
    # Read while the message is claimed: the context is the messages before it, whatever its state.
    context = side.start("session_context", chat.session_context, ids, services.settings.context_messages)
    # The usual case, a pending message, in one round trip instead of three (read, look up, mark).
    claimed = chat.claim_pending(message_id, session_id, **running)
    if claimed is not None:
        return claimed, *_ask(services, task, side, claimed, kind, event_type, context)
    message = chat.get_message(message_id)
    if message is None or str(message["session_id"]) != session_id or message["role"] != "user":
        raise MessageNotFound(f"no user message {message_id} in session {session_id}")
    answer = chat.find_assistant(message["_id"], kind)
    if answer is not None:
        return message, answer, False, None
    chat.set_status(message["_id"], MessageStatus.PROCESSING, **running)
    return message, *_ask(services, task, side, message, kind, event_type, context)


def _ask(
    services: Services,
    task: TaskContext,
    side: SideReads,
    message: Mapping[str, Any],
    kind: MessageKind,
    event_type: str,
    context_read: SideRead[list[Document]],
) -> tuple[Document, bool, SideRead[list[Document]]]:
    """Ask the AI service and store its answer (and whether this call stored it: a racing run may have
    stored one first); keep the user message's status telling the truth (the caller has marked it
    processing). The answer's subscriptions are read while the AI service works on it: the answer goes
    to the subscriptions active when it was asked for."""
    chat = services.db.chat
    subscriptions = side.start(
        "webhook_subscriptions", services.db.subscriptions.matching, message["client_id"], event_type
    )
    context = [
        ContextMessage(m["role"], m["content"], m["created_at"].isoformat()) for m in context_read.result()
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
    return *chat.save_assistant(message, kind, content, suggestions), subscriptions
