"""The payload of each task type, validated strictly on both sides of Redis.

The client validates before anything is enqueued and the worker validates again before a handler runs,
because anyone who can write to Redis can write a job. Strict mode refuses ``"true"`` for a bool and ``5``
for an id instead of guessing.
"""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

ObjectIdStr = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{24}$")]
"""A MongoDB ObjectId in its 24-hex-digit form (sessions and messages)."""

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$")]
"""An identifier chosen by the caller (client ids, event ids, event types): 1-128 safe characters."""


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ChatWorkflowPayload(Payload):
    message_id: ObjectIdStr
    session_id: ObjectIdStr
    suggestion_mode: bool = False


class SuggestionWorkflowPayload(Payload):
    message_id: ObjectIdStr
    session_id: ObjectIdStr


class EventProcessorPayload(Payload):
    event_id: Name
    client_id: Name
    event_type: Name
    entity_type: Name
    payload: dict[str, Any] = Field(default_factory=dict)


class SemanticLayerSyncPayload(Payload):
    client_id: Name
    sync_type: Name


def field_errors(exc: ValidationError) -> dict[str, str]:
    """``{"field.path": "what is wrong"}`` for each error, the shape API and CLI answers share."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "(body)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "string_pattern_mismatch":
            message = f"has an invalid format (expected {error['ctx']['pattern']})"
        errors.setdefault(path, message)
    return errors
