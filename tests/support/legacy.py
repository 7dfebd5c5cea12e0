"""The real task types and payload models under their legacy Celery names, with handlers that only
record what they were given: the bridge tests check payloads and counts, not the workflows."""

import json
from dataclasses import replace
from typing import Any

import redis

from handlers.payloads import Payload
from handlers.registry import Registry, TaskContext
from handlers.services import Services
from handlers.task_types import REGISTRY as REAL

RUNS = "test:legacy:runs"
PAYLOADS = "test:legacy:payloads"


def record(payload: Payload, services: Services, task: TaskContext) -> None:
    conn = redis.Redis.from_url(services.settings.redis_url)
    conn.hincrby(RUNS, task.task_id, 1)
    conn.hset(PAYLOADS, task.task_id, json.dumps({"type": task.task_type, **payload.model_dump(mode="json")}))


def recorded(conn: redis.Redis) -> dict[str, dict[str, Any]]:
    return {k.decode(): json.loads(v) for k, v in conn.hgetall(PAYLOADS).items()}


REGISTRY = Registry(replace(spec, handler=record) for spec in REAL)
