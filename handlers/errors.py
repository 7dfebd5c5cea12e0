"""The failure vocabulary shared by handlers and the worker (Asynq's ``SkipRetry``, in Python).

A handler raises :class:`PermanentError` when running it again cannot help (a bad payload, a message that
does not exist, a 4xx from the AI service); every other exception is transient and retried by policy.
"""


class PermanentError(Exception):
    """Fail the task now: do not retry it."""


class UnknownTaskType(PermanentError):
    def __init__(self, task_type: str, known: list[str]) -> None:
        super().__init__(f"unknown task type {task_type!r}; known types: {', '.join(sorted(known))}")
        self.task_type = task_type


class PayloadError(PermanentError):
    """The payload does not match the task type's model; ``errors`` names each bad field."""

    def __init__(self, task_type: str, errors: dict[str, str]) -> None:
        detail = "; ".join(f"{field}: {message}" for field, message in errors.items())
        super().__init__(f"invalid payload for {task_type}: {detail}")
        self.task_type = task_type
        self.errors = errors
