"""One chat job run on a real ``fraiday worker``, for the handler tests that read what the worker did."""

import signal
from pathlib import Path

import redis

from fraiday_cli.tasks.client import TaskClient
from handlers.services import Services
from handlers.task_types import REGISTRY
from handlers.wire_format import JOB_KEY_PREFIX
from tests.processes import fraiday, wait_for

CHAT_WORKER = ["worker", "--queue", "chat_workflow", "--concurrency", "1"]


def chat_task(services: Services, redis_conn: redis.Redis, backoff_scale: float = 1.0) -> tuple[str, str]:
    """A user message in a new session of client ``acme``, and its chat workflow enqueued: the task's id
    and the message's."""
    session = services.db.chat.create_session("acme")
    message = services.db.chat.add_user_message(session, "Hi", suggestion_mode=False)
    client = TaskClient(redis_conn, REGISTRY, backoff_scale=backoff_scale)
    task = client.chat_workflow(str(message["_id"]), str(session["_id"]))
    return task.task_id, str(message["_id"])


def run_until(status: str, redis_conn: redis.Redis, task_id: str, env: dict[str, str], log: Path) -> str:
    """Run a chat worker until the job's status is ``status``, stop it, and return what it wrote."""
    with fraiday(CHAT_WORKER, env, log) as worker:
        key = JOB_KEY_PREFIX + task_id
        wait_for(lambda: redis_conn.hget(key, "status") == status.encode(), 30, what=status)
        worker.stop(signal.SIGTERM)
        return worker.output()
