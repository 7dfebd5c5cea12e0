"""The stand-in handler until the workflows (AI, webhooks, MongoDB) land.

It fails permanently rather than succeeding silently: a task taken now lands in the dead-letter registry,
where ``fraiday requeue`` sends it back once the real handler is deployed. Nothing is lost or faked.
"""

from typing import Any

from handlers.errors import PermanentError
from handlers.registry import TaskContext


def not_implemented(payload: Any, services: Any, task: TaskContext) -> None:
    raise PermanentError(f"the {task.task_type} handler is not deployed yet; requeue this task once it is")
