"""The payload of each task type, validated strictly on both sides of Redis.

The client validates before anything is enqueued and the worker validates again before a handler runs,
because anyone who can write to Redis can write a job. Strict mode refuses ``"true"`` for a bool and ``5``
for an id instead of guessing, and every field must be storable (:mod:`handlers.storable`), the API's
request bodies included, so the API refuses exactly what the worker would.
"""

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from handlers.storable import NotStorable, check_storable

OBJECT_ID_PATTERN = r"^[0-9a-fA-F]{24}$"
OBJECT_ID_RULE = "must be a MongoDB ObjectId: 24 hexadecimal digits"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"
NAME_RULE = "must be 1-128 characters: letters, digits and _ . : @ / -, starting with a letter or digit"
RULES = {OBJECT_ID_PATTERN: OBJECT_ID_RULE, NAME_PATTERN: NAME_RULE}
"""What an error says for each pattern: the rule in words, the same words the OpenAPI document shows."""


def _lower_hex(value: Any) -> Any:
    """Go's ``primitive.ObjectIDFromHex`` took either case; the stored form is lower case."""
    return value.lower() if isinstance(value, str) else value


ObjectIdStr = Annotated[
    str,
    StringConstraints(pattern=OBJECT_ID_PATTERN),
    BeforeValidator(_lower_hex),
    Field(description=f"An id fraiday stored; {OBJECT_ID_RULE} (either case)."),
]
"""Sessions and messages: fraiday stores them, like the Go service did, under MongoDB ObjectIds."""

Name = Annotated[
    str,
    StringConstraints(pattern=NAME_PATTERN),
    Field(description=f"An identifier chosen by the caller; {NAME_RULE}."),
]
"""Client ids, event ids, event and entity types, sync types: chosen by callers, and used in URL paths,
the ``X-Fraiday-Event`` header, Redis keys and metric labels, so they keep to characters that are safe
in all of those. UUIDs, slugs, dotted types, URNs and e-mail addresses fit."""


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        try:
            check_storable(value)
        except NotStorable as exc:
            raise ValueError(str(exc)) from None
        return value


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
        elif error["type"] == "value_error":
            message = str(error["ctx"]["error"])
        elif error["type"] == "string_pattern_mismatch":
            pattern = error["ctx"]["pattern"]
            message = RULES.get(pattern, f"has an invalid format (expected {pattern})")
        errors.setdefault(path, message)
    return errors
