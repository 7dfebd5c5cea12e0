"""Request and response models of the API; the OpenAPI document is generated from these.

Request bodies are strict and refuse unknown fields, like the task payloads they feed (the event body
*is* the event task's payload model, with ``event_id`` made optional).
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from handlers.payloads import NAME_RULE, EventProcessorPayload, Name, ObjectIdStr, Payload

TaskId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")]
EventType = Annotated[str, StringConstraints(pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127})$")]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Paths and queries: strings from the URL, validated for shape.


class SessionPath(BaseModel):
    session_id: ObjectIdStr


class MessagePath(BaseModel):
    session_id: ObjectIdStr
    message_id: ObjectIdStr


class ClientPath(BaseModel):
    client_id: Name


class WebhookPath(BaseModel):
    client_id: Name
    webhook_id: ObjectIdStr


class TaskPath(BaseModel):
    task_id: TaskId


class MessageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=200, description="Messages per page.")
    after: ObjectIdStr | None = Field(None, description="The `next_after` of the previous page.")


# Bodies.


class SessionCreate(Payload):
    client_id: Name
    metadata: dict[str, Any] = Field(default_factory=dict)


class MessageCreate(Payload):
    content: Annotated[str, StringConstraints(min_length=1, max_length=16_000)]
    suggestion_mode: bool = False


class EventCreate(EventProcessorPayload):
    event_id: Name | None = Field(  # type: ignore[assignment]
        None, description=f"Idempotency key, generated when absent; {NAME_RULE}."
    )


class SyncCreate(Payload):
    sync_type: Name


class WebhookCreate(Payload):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    event_types: Annotated[list[EventType], Field(min_length=1, max_length=64)]


# Answers.


class Session(Out):
    session_id: str
    client_id: str
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class Message(Out):
    message_id: str
    session_id: str
    role: Literal["user", "assistant"]
    kind: Literal["message", "reply", "suggestions"]
    content: str | None
    suggestions: list[str] = Field(default_factory=list)
    reply_to: str | None = None
    status: Literal["pending", "processing", "completed", "failed"]
    error: str | None = None
    created_at: datetime


class MessagePage(Out):
    messages: list[Message]
    next_after: str | None = Field(description="Pass as `after` for the next page; null on the last.")


class MessageAccepted(Out):
    message_id: str
    task_id: str
    status: str


class TaskAccepted(Out):
    task_id: str
    duplicate: bool = Field(description="True when an equal task was already accepted; its id is returned.")


class EventAccepted(TaskAccepted):
    event_id: str


class Webhook(Out):
    webhook_id: str
    client_id: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime
    deactivated_reason: str | None = None


class WebhookCreated(Webhook):
    secret: str = Field(description="The signing secret; shown only in this answer.")


class WebhookList(Out):
    webhooks: list[Webhook]
