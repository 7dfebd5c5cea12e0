"""The handler registry: a plain table from task type to payload model, handler, queue and policy.

Like Asynq's ServeMux it refuses a duplicate or empty registration when built, and answers an unknown
type with a clear error. The server, the workers and the CLI all read the same table.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from handlers.errors import PayloadError, UnknownTaskType
from handlers.payloads import Payload, field_errors
from handlers.retry import RetryPolicy

if TYPE_CHECKING:
    from handlers.services import Services


@dataclass(frozen=True)
class TaskContext:
    """What a handler knows about the run it is part of (ids for idempotency, attempt for logs)."""

    task_id: str
    task_type: str
    queue: str
    attempt: int
    max_attempts: int

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


Handler = Callable[[Any, "Services", TaskContext], Mapping[str, Any] | None]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    queue: str
    payload_model: type[Payload]
    handler: Handler
    retry: RetryPolicy
    timeout_seconds: int
    legacy_name: str | None = None
    unique_fields: tuple[str, ...] = ()
    """Payload fields that identify a unique task: while one is pending or running, no second is enqueued."""
    needs_ai_service: bool = False
    """The handler calls the AI service: without ``AI_SERVICE_URL`` its tasks fail permanently, so a worker
    serving its queue says so once at start."""

    def parse(self, payload: Any) -> Payload:
        if not isinstance(payload, Mapping):
            raise PayloadError(self.name, {"(payload)": "must be a JSON object"})
        try:
            return self.payload_model.model_validate(dict(payload))
        except ValidationError as exc:
            raise PayloadError(self.name, field_errors(exc)) from None

    @property
    def fields(self) -> list[str]:
        return list(self.payload_model.model_fields)


class Registry:
    def __init__(self, specs: Iterable[TaskSpec]) -> None:
        self._specs: dict[str, TaskSpec] = {}
        for spec in specs:
            if not spec.name or not spec.queue:
                raise ValueError(f"task type registered with an empty name or queue: {spec!r}")
            if spec.name in self._specs:
                raise ValueError(f"task type {spec.name!r} registered twice")
            unknown = set(spec.unique_fields) - set(spec.fields)
            if unknown:
                raise ValueError(f"{spec.name}: unique fields {sorted(unknown)} are not payload fields")
            self._specs[spec.name] = spec
        if not self._specs:
            raise ValueError("a registry needs at least one task type")

    def get(self, task_type: str) -> TaskSpec:
        try:
            return self._specs[task_type]
        except KeyError:
            raise UnknownTaskType(task_type, list(self._specs)) from None

    def by_legacy_name(self, legacy_name: str) -> TaskSpec:
        for spec in self._specs.values():
            if spec.legacy_name == legacy_name:
                return spec
        raise UnknownTaskType(legacy_name, [s.legacy_name for s in self._specs.values() if s.legacy_name])

    def with_queues(self, overrides: Mapping[str, str]) -> "Registry":
        """The same table with some task types moved to other queues (``FRAIDAY_TASK_QUEUES``)."""
        for task_type in overrides:
            self.get(task_type)
        return Registry(replace(s, queue=overrides.get(s.name, s.queue)) for s in self)

    @property
    def queues(self) -> list[str]:
        return sorted({spec.queue for spec in self})

    def __iter__(self) -> Iterator[TaskSpec]:
        return iter(self._specs.values())
