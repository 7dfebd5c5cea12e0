"""Legacy Celery producers (a real Celery client, JSON, real Redis) feeding fraiday workers via the bridge."""

import base64
import json
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from celery import Celery

from config import Settings
from fraiday_cli.celery_bridge.bridge import DEAD_LETTERS, PROCESSING_PREFIX, CeleryBridge, celery_lists
from fraiday_cli.tasks.client import TaskClient
from tests.processes import FraidayProcess, fraiday, settled, wait_for
from tests.support.legacy import REGISTRY, RUNS, recorded

LEGACY = "tests.support.legacy:REGISTRY"
BRIDGE = ["celery-bridge", "--registry", LEGACY]
QUEUES = ("chat_workflow", "events", "semantic_layer")
WORKER = ["worker", "--concurrency", "2", "--registry", LEGACY]
MID, SID = "6560c0ffee0000000000f00d", "6560c0ffee0000000000beef"
EVENT = {
    "event_id": "e-1",
    "client_id": "acme",
    "event_type": "order.created",
    "entity_type": "order",
    "payload": {"n": 1},
}
ROUTES = {
    "send_chat_workflow": {"queue": "chat_workflow"},
    "send_suggestion_workflow": {"queue": "chat_workflow"},
    "process_event": {"queue": "events"},
    "trigger_sync_job": {"queue": "semantic_layer"},
}


@pytest.fixture
def legacy(redis_url: str) -> Iterator[Celery]:
    app = Celery("legacy", broker=redis_url, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], task_routes=ROUTES)
    yield app
    app.close()


def _bridging(bridge: FraidayProcess) -> bool:
    return "bridging Celery queues" in bridge.output() or bridge.proc.poll() is not None


def pending_celery(conn: redis.Redis) -> int:
    lists = [name for queue in QUEUES for name in celery_lists(queue)]
    lists += [PROCESSING_PREFIX + queue for queue in QUEUES]
    return sum(cast(int, conn.llen(name)) for name in lists)


def test_each_legacy_task_runs_its_handler_with_the_right_payload(
    settings: Settings, legacy: Celery, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    @legacy.task(name="send_chat_workflow")
    def send_chat_workflow(message_id: str, session_id: str, suggestion_mode: bool = False) -> None:
        """The producer's stub: only its name and signature matter."""

    @legacy.task(name="trigger_sync_job")
    def trigger_sync_job(client_id: str, sync_type: str) -> None:
        """The producer's stub."""

    sent = {
        send_chat_workflow.delay(message_id=MID, session_id=SID, suggestion_mode=True).id: {
            "type": "chat:workflow", "message_id": MID, "session_id": SID, "suggestion_mode": True,
        },
        legacy.send_task("send_suggestion_workflow", args=[MID, SID]).id: {
            "type": "suggestion:workflow", "message_id": MID, "session_id": SID,
        },
        legacy.send_task("process_event", args=[EVENT]).id: {"type": "event:process", **EVENT},
        trigger_sync_job.delay("acme", "full").id: {
            "type": "semantic_layer:sync", "client_id": "acme", "sync_type": "full",
        },
    }  # fmt: skip
    with fraiday(BRIDGE, env, tmp_path / "bridge.log"), fraiday(WORKER, env, tmp_path / "worker.log"):
        wait_for(lambda: len(recorded(redis_conn)) == 4, 30, what="four legacy tasks run")
    assert recorded(redis_conn) == sent
    assert {k.decode(): int(v) for k, v in redis_conn.hgetall(RUNS).items()} == dict.fromkeys(sent, 1)
    assert pending_celery(redis_conn) == 0


def test_killing_the_bridge_in_a_loop_loses_nothing_and_doubles_nothing(
    settings: Settings, legacy: Celery, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    ids: list[str] = []

    def produce() -> None:
        for i in range(1000):
            ids.append(legacy.send_task("process_event", kwargs={**EVENT, "event_id": f"e-{i}"}).id)
            if i % 50 == 0:
                time.sleep(0.05)

    producer = threading.Thread(target=produce)
    producer.start()
    kills = 0
    rng = random.Random(7)
    while producer.is_alive() or pending_celery(redis_conn):
        bridge = FraidayProcess(BRIDGE, env, tmp_path / f"bridge-{kills}.log")
        # Killed at a random moment once it bridges (start-up alone can take seconds on a busy machine).
        wait_for(partial(_bridging, bridge), 30, what="the bridge to start")
        time.sleep(rng.uniform(0.05, 0.5))
        os.kill(bridge.pid, signal.SIGKILL)
        bridge.proc.wait(5)
        kills += 1
        assert kills < 200, "the bridge never caught up"
    producer.join()
    assert kills >= 3
    with fraiday(WORKER, env, tmp_path / "worker.log"):
        wait_for(lambda: redis_conn.hlen(RUNS) == 1000, 60, what="1000 runs")
        wait_for(lambda: settled(redis_conn, QUEUES), 30, what="no job left to run")
    runs = {k.decode(): int(v) for k, v in redis_conn.hgetall(RUNS).items()}
    assert set(runs) == set(ids)
    assert set(runs.values()) == {1}
    assert redis_conn.llen(DEAD_LETTERS) == 0


def test_bad_messages_are_dead_lettered_with_reasons_and_never_run(
    settings: Settings, legacy: Celery, redis_conn: redis.Redis
) -> None:
    legacy.send_task("no_such_task", args=[1], queue="events")
    legacy.send_task("process_event", kwargs={"event_id": "e-2", "client_id": "acme"})
    legacy.send_task("process_event", args=[EVENT], serializer="pickle")
    legacy.send_task("trigger_sync_job", args=["acme", "full", "extra"])
    redis_conn.lpush("events", b"\x00\x01 not json at all")
    redis_conn.lpush("events", b"[" * 5000 + b"]" * 5000)
    deep_body = base64.b64encode(b"[" * 5000 + b"]" * 5000).decode()
    envelope = {
        "body": deep_body,
        "content-type": "application/json",
        "properties": {"body_encoding": "base64"},
    }
    redis_conn.lpush("events", json.dumps({**envelope, "headers": {"task": "process_event", "id": "deep"}}))
    bridge = CeleryBridge(
        redis_conn, TaskClient(redis_conn, REGISTRY), ["chat_workflow", "events", "semantic_layer"]
    )
    while bridge.step():
        pass
    dead: list[dict[str, Any]] = [json.loads(entry) for entry in redis_conn.lrange(DEAD_LETTERS, 0, -1)]
    reasons = sorted(entry["reason"] for entry in dead)
    assert len(reasons) == 7
    assert any("unknown task type 'no_such_task'" in r for r in reasons)
    assert any("entity_type: Field required" in r for r in reasons)
    assert any("unsupported serializer 'application/x-python-serialize'" in r for r in reasons)
    assert any("takes at most 2 positional arguments" in r for r in reasons)
    assert sum("the envelope is not JSON" in r for r in reasons) == 2
    assert any("the body is not valid JSON" in r for r in reasons)
    assert redis_conn.keys("rq:queue:*") == []
    assert pending_celery(redis_conn) == 0
