"""The one job function RQ calls: look the type up, validate the payload, run the handler.

Logging and timing wrap every handler here, once, like Asynq middleware, so handlers stay plain
functions of a validated payload and their dependencies.
"""

import logging
import time
from collections.abc import Mapping
from typing import Any, Literal

from opentelemetry.trace import SpanKind
from rq import get_current_job

from config.logs import log_context
from handlers import runtime
from handlers.errors import PermanentError, UnknownTaskType
from handlers.metrics import TASK_DURATION, TASKS
from handlers.registry import TaskContext
from handlers.tracing import context_from, tracer
from handlers.wire_format import ATTEMPTS_META, MAX_ATTEMPTS_META, REQUEST_ID_META, attempt_number

log = logging.getLogger("fraiday.task")

AttemptOutcome = Literal["succeeded", "retrying", "failed"]


def task_context(task_type: str, max_attempts: int) -> TaskContext:
    job = get_current_job()
    if job is None:
        raise RuntimeError("run_task must run inside an RQ job")
    max_attempts = int(job.meta.get(MAX_ATTEMPTS_META, max_attempts))
    context = TaskContext(
        task_id=job.id,
        task_type=task_type,
        queue=job.origin,
        attempt=attempt_number(max_attempts, job.retries_left),
        max_attempts=max_attempts,
    )
    if job.meta.get(ATTEMPTS_META) != context.attempt:  # a slot writes it as the job starts
        job.meta[ATTEMPTS_META] = context.attempt
        job.save_meta()
    return context


def _log_fields(context: TaskContext) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "task_id": context.task_id,
        "task_type": context.task_type,
        "queue": context.queue,
        "attempt": context.attempt,
    }
    job = get_current_job()
    if job is not None and job.meta.get(REQUEST_ID_META):
        fields[REQUEST_ID_META] = job.meta[REQUEST_ID_META]
    return fields


def run_task(task_type: str, payload: Any) -> Mapping[str, Any] | None:
    bound = runtime.current()
    try:
        spec = bound.registry.get(task_type)
    except UnknownTaskType as exc:
        log.error("task failed permanently: %s", exc, extra={"task_type": task_type, "outcome": "failed"})
        raise
    context = task_context(task_type, spec.retry.max_attempts)
    job = get_current_job()
    span = tracer.start_as_current_span(
        f"task {task_type}",
        context=context_from(job.meta if job is not None else {}),
        kind=SpanKind.CONSUMER,
        attributes={"fraiday.task_id": context.task_id, "fraiday.attempt": context.attempt},
    )
    with span, log_context(**_log_fields(context)):
        log.info("task started")
        started = time.perf_counter()
        try:
            result = spec.handler(spec.parse(payload), bound.services, context)
        except PermanentError as exc:
            log.error("task failed permanently: %s", exc, extra=_finish(context, "failed", started))
            raise
        except Exception as exc:
            outcome: AttemptOutcome = "failed" if context.is_last_attempt else "retrying"
            log.warning(
                "task attempt failed: %s: %s",
                type(exc).__name__,
                exc,
                extra=_finish(context, outcome, started),
            )
            raise
        log.info("task finished", extra=_finish(context, "succeeded", started))
        return result


def _finish(context: TaskContext, outcome: AttemptOutcome, started: float) -> dict[str, Any]:
    """Record the attempt's metrics once, and return the log fields saying the same."""
    seconds = time.perf_counter() - started
    TASK_DURATION.labels(context.task_type, context.queue).observe(seconds)
    TASKS.labels(context.task_type, context.queue, "retried" if outcome == "retrying" else outcome).inc()
    return {"outcome": outcome, "duration_ms": round(seconds * 1000, 2)}
