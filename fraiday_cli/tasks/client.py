"""The task client: validate a payload, then enqueue it as a JSON job on its type's queue.

Nothing reaches Redis before the payload is valid. Jobs take the shape ``handlers.wire_format``
defines: JSON, never pickle, naming fraiday's one dispatcher.
"""

import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from opentelemetry.trace import SpanKind
from rq import Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus

from config.logs import current_log_context
from fraiday_cli.tasks.task_queue import queue_for
from fraiday_cli.tasks.uniqueness import UniqueLock
from handlers.payloads import Payload
from handlers.registry import Registry, TaskSpec
from handlers.tracing import current_carrier, tracer
from handlers.wire_format import (
    JOB_FUNCTION,
    MAX_ATTEMPTS_META,
    REQUEST_ID_META,
    TASK_TYPE_META,
    TRACE_META,
)

RESULT_TTL_SECONDS = 24 * 3600
FAILURE_TTL_SECONDS = 7 * 24 * 3600
TASK_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
"""What RQ accepts as a job id (letters, digits, ``_`` and ``-``), bounded so keys stay short."""


class InvalidTaskId(ValueError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"task id {task_id!r} must be 1-128 letters, digits, '_' or '-'")


@dataclass(frozen=True)
class Enqueued:
    task_id: str
    task_type: str
    queue: str
    duplicate: bool = False
    """True when an equivalent task was already pending and its id is returned instead."""


def _request_meta() -> dict[str, Any]:
    """The id of the API request being served, if any, so the job's log lines carry it too."""
    request_id = current_log_context().get(REQUEST_ID_META)
    return {REQUEST_ID_META: request_id} if request_id else {}


class TaskClient:
    def __init__(
        self,
        connection: redis.Redis,
        registry: Registry,
        *,
        backoff_scale: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.connection = connection
        self.registry = registry
        self.backoff_scale = backoff_scale
        self.rng = rng or random.Random()

    def enqueue(
        self,
        task_type: str,
        payload: Payload | dict[str, Any],
        *,
        task_id: str | None = None,
        run_at: datetime | None = None,
        delay: timedelta | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Enqueued:
        """Enqueue a task; with ``task_id``, a second call with the same id enqueues nothing."""
        spec = self.registry.get(task_type)
        model = payload if isinstance(payload, spec.payload_model) else spec.parse(payload)
        data = model.model_dump(mode="json")
        if task_id is not None and not TASK_ID_PATTERN.fullmatch(task_id):
            raise InvalidTaskId(task_id)
        job_id = task_id or uuid.uuid4().hex
        if delay is not None:
            run_at = datetime.now(UTC) + delay
        lock = UniqueLock.for_task(self.connection, spec, data) if spec.unique_fields else None
        if lock is not None:
            holder = lock.acquire(job_id, ttl_seconds=self._lock_ttl(spec, run_at))
            if holder != job_id:
                return Enqueued(holder, spec.name, spec.queue, duplicate=True)
        try:
            self._enqueue_job(spec, data, job_id, run_at, meta or {})
        except DuplicateJobError:
            return Enqueued(job_id, spec.name, spec.queue, duplicate=True)
        except Exception:
            if lock is not None:
                lock.release(job_id)
            raise
        return Enqueued(job_id, spec.name, spec.queue)

    def _enqueue_job(
        self, spec: TaskSpec, data: dict[str, Any], job_id: str, run_at: datetime | None, meta: dict[str, Any]
    ) -> Job:
        with tracer.start_as_current_span(
            f"enqueue {spec.name}", kind=SpanKind.PRODUCER, attributes={"fraiday.task_id": job_id}
        ):
            return self._create_and_enqueue(spec, data, job_id, run_at, meta)

    def _create_and_enqueue(
        self, spec: TaskSpec, data: dict[str, Any], job_id: str, run_at: datetime | None, meta: dict[str, Any]
    ) -> Job:
        queue = queue_for(spec.queue, self.connection)
        retry = (
            Retry(
                max=spec.retry.max_attempts - 1, interval=spec.retry.intervals(self.rng, self.backoff_scale)
            )
            if spec.retry.max_attempts > 1
            else None
        )
        job = queue.create_job(
            JOB_FUNCTION,
            args=(spec.name, data),
            job_id=job_id,
            timeout=spec.timeout_seconds,
            result_ttl=RESULT_TTL_SECONDS,
            failure_ttl=FAILURE_TTL_SECONDS,
            retry=retry,
            description=spec.name,
            meta={
                **meta,
                **_request_meta(),
                TRACE_META: current_carrier(),
                TASK_TYPE_META: spec.name,
                MAX_ATTEMPTS_META: spec.retry.max_attempts,
            },
            status=JobStatus.SCHEDULED if run_at is not None else JobStatus.QUEUED,
        )
        if run_at is not None:
            return queue.schedule_job(job, run_at, unique=True)
        return queue.enqueue_job(job, unique=True)

    def _lock_ttl(self, spec: TaskSpec, run_at: datetime | None) -> int:
        """Long enough to cover the wait, every attempt and its backoff; the job's state is checked anyway."""
        wait = max(0.0, (run_at - datetime.now(UTC)).total_seconds()) if run_at else 0.0
        retries = spec.retry.max_attempts * (spec.timeout_seconds + spec.retry.max_backoff_seconds)
        return int(wait + retries) + 60

    # The seed's EnqueueChatWorkflow, EnqueueSuggestionWorkflow, EnqueueEventProcessor and
    # EnqueueSemanticLayerSync.

    def chat_workflow(self, message_id: str, session_id: str, suggestion_mode: bool = False) -> Enqueued:
        payload = {"message_id": message_id, "session_id": session_id, "suggestion_mode": suggestion_mode}
        return self.enqueue("chat:workflow", payload)

    def suggestion_workflow(self, message_id: str, session_id: str) -> Enqueued:
        return self.enqueue("suggestion:workflow", {"message_id": message_id, "session_id": session_id})

    def event_processor(
        self, event_id: str, client_id: str, event_type: str, entity_type: str, payload: dict[str, Any]
    ) -> Enqueued:
        data = {
            "event_id": event_id,
            "client_id": client_id,
            "event_type": event_type,
            "entity_type": entity_type,
            "payload": payload,
        }
        return self.enqueue("event:process", data)

    def semantic_layer_sync(self, client_id: str, sync_type: str) -> Enqueued:
        return self.enqueue("semantic_layer:sync", {"client_id": client_id, "sync_type": sync_type})
