"""From an Asynq task to a fraiday task type and payload: the type-name table and Go's JSON habits.

The seeds name the Go service's task types only by their Go constants (``TypeChatWorkflow``, ...), not by
the strings Asynq stored, so each fraiday task type's Asynq name is configurable; by default it is the
fraiday name (``chat:workflow``, ``suggestion:workflow``, ``event:process``, ``semantic_layer:sync``).
Payloads are the JSON of the migration guide's Go structs, whose fields are fraiday's, with two habits
of the Go service read as it meant them: ``encoding/json`` writes a nil map as ``null``, and suggestion
tasks carry ``ChatWorkflowPayload`` (the guide has no struct of their own), with ``suggestion_mode``.
"""

import json
from collections.abc import Mapping
from typing import Any

from fraiday_cli.asynq_bridge.task_message import AsynqTask, BadTask
from handlers.registry import Registry, TaskSpec

GO_ONLY_FIELDS = {"suggestion:workflow": ("suggestion_mode",)}
"""Fields a Go payload carries that the fraiday type implies (a suggestion task is in suggestion mode)."""


def parse_type_names(text: str) -> dict[str, str]:
    """``chat:workflow=ChatWorkflow,...`` (fraiday type = Asynq type) into a dict."""
    names: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        fraiday_type, sep, asynq_type = (part.strip() for part in item.partition("="))
        if not sep or not fraiday_type or not asynq_type:
            raise ValueError(f"expected fraiday-type=asynq-type pairs, bad item {item!r}")
        names[fraiday_type] = asynq_type
    return names


class TypeNames:
    """Asynq type name -> the fraiday task it becomes."""

    def __init__(self, registry: Registry, names: Mapping[str, str]) -> None:
        for fraiday_type in names:
            registry.get(fraiday_type)  # UnknownTaskType names the known ones
        self._specs: dict[str, TaskSpec] = {}
        for spec in registry:
            asynq_type = names.get(spec.name, spec.name)
            if asynq_type in self._specs:
                raise ValueError(f"Asynq type {asynq_type!r} is given to two fraiday task types")
            self._specs[asynq_type] = spec

    def spec_for(self, asynq_type: str) -> TaskSpec:
        try:
            return self._specs[asynq_type]
        except KeyError:
            known = ", ".join(sorted(self._specs))
            raise BadTask(f"unknown Asynq task type {asynq_type!r} (known: {known})") from None

    def table(self) -> dict[str, str]:
        return {asynq_type: spec.name for asynq_type, spec in self._specs.items()}


def payload_of(task: AsynqTask, spec: TaskSpec) -> dict[str, Any]:
    try:
        data = json.loads(task.payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # RecursionError: nested too deep
        raise BadTask(f"the payload of {task.type} is not JSON") from None
    if not isinstance(data, dict):
        raise BadTask(f"the payload of {task.type} is not a JSON object")
    dropped = GO_ONLY_FIELDS.get(spec.name, ())
    # A Go nil map or slice: absent, so the fraiday default (an empty object or list) applies.
    return {key: value for key, value in data.items() if value is not None and key not in dropped}
