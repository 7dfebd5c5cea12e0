"""Turning a legacy call's arguments into a task payload, whichever way the producer passed them.

Legacy producers call ``send_chat_workflow.delay(message_id=..., session_id=...)``, or positionally in
the order of the registry's payload fields, or with the whole payload as one dict: all three are read.
"""

from typing import Any

from fraiday_cli.celery_bridge.messages import BadMessage, LegacyTask
from handlers.registry import TaskSpec


def payload_of(task: LegacyTask, spec: TaskSpec) -> dict[str, Any]:
    if not task.kwargs and len(task.args) == 1 and isinstance(task.args[0], dict):
        return dict(task.args[0])
    fields = spec.fields
    if len(task.args) > len(fields):
        raise BadMessage(
            f"{task.name} takes at most {len(fields)} positional arguments ({', '.join(fields)})"
        )
    payload = dict(zip(fields, task.args, strict=False))
    both = sorted(set(payload) & set(task.kwargs))
    if both:
        raise BadMessage(f"{task.name}: {', '.join(both)} given both positionally and by keyword")
    return {**payload, **task.kwargs}
