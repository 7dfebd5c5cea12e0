"""The Go service's Asynq tasks (left by the real Asynq library) run on fraiday workers via the bridge."""

import base64
import json
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client import REGISTRY as METRICS

from config import Settings
from fraiday_cli.asynq_bridge.bridge import (
    DEAD_LETTERS,
    SOURCES,
    AsynqBridge,
    Taken,
    job_id_for,
    processing_key,
    queue_key,
    task_key,
)
from fraiday_cli.asynq_bridge.payloads import TypeNames
from fraiday_cli.asynq_bridge.task_message import message_class
from fraiday_cli.reconnect import address_of
from fraiday_cli.tasks.client import TaskClient
from tests.harness.asynq_producer import LeftTask, produce
from tests.harness.process import free_port
from tests.processes import FraidayProcess, fraiday, wait_for
from tests.support.legacy import REGISTRY, RUNS, recorded

LEGACY = "tests.support.legacy:REGISTRY"
GO_QUEUES = ["chat_workflow", "events", "default"]
BRIDGE = ["asynq-bridge", "--registry", LEGACY]
WORKER = ["worker", "--concurrency", "2", "--registry", LEGACY]
RETRY_DELAY_SECONDS = 3
SCHEDULED_IN_SECONDS = 4
KINDS = ("pending", "scheduled", "unique", "retried")


def object_id(n: int) -> str:
    return f"6560c0ffee{n:014x}"


def go_task(task_type: str, kind: str, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """An Asynq task spec of the Go service's kind, and the fraiday payload it must become."""
    spec: dict[str, Any] = {"type": task_type}
    if kind == "scheduled":
        spec["process_in_seconds"] = SCHEDULED_IN_SECONDS
    elif kind == "unique":
        spec["unique_seconds"] = 3600
    elif kind == "retried":
        spec["fail_once"] = True
    if task_type in ("chat:workflow", "suggestion:workflow"):
        ids = {"message_id": object_id(2 * n), "session_id": object_id(2 * n + 1)}
        suggestion = task_type == "suggestion:workflow"
        spec |= {"queue": "chat_workflow", "go_struct": "ChatWorkflowPayload"}
        spec["payload"] = {**ids, "suggestion_mode": suggestion or kind == "unique"}
        expected = ids if suggestion else {**ids, "suggestion_mode": kind == "unique"}
    elif task_type == "event:process":
        event: dict[str, Any] = {
            "event_id": f"e-{kind}",
            "client_id": "acme",
            "event_type": "order.created",
            "entity_type": "order",
        }
        # A Go producer that passed a nil map: encoding/json writes "payload": null.
        data = {} if kind == "unique" else {"total": n}
        spec |= {
            "queue": "events",
            "go_struct": "EventProcessorPayload",
            "payload": {**event, "payload": data or None},
        }
        expected = {**event, "payload": data}
        if kind == "pending":
            spec["id"] = "order:42"  # a producer-chosen Asynq id that RQ cannot take as it is
    else:
        sync = {"client_id": f"acme-{kind}", "sync_type": "full"}
        spec |= {"queue": "default", "go_struct": "SemanticLayerSyncPayload", "payload": sync}
        expected = sync
    return spec, {"type": task_type, **expected}


@pytest.fixture
def go_env(env: dict[str, str]) -> dict[str, str]:
    """fraiday routed like the Go service's values: the sync on `default`."""
    return {**env, "FRAIDAY_TASK_QUEUES": "semantic_layer:sync=default"}


def asynq_leftovers(conn: redis.Redis) -> list[str]:
    """Every Asynq key that still holds a task, a lock or a bridge entry (stats keys are not tasks)."""
    patterns = ("asynq:{*}:pending", "asynq:{*}:scheduled", "asynq:{*}:retry", "asynq:{*}:t:*")
    found = [key for pattern in patterns for key in conn.keys(pattern)]
    found += conn.keys("asynq:{*}:unique:*") + conn.keys("asynq:{*}:fraiday-bridge:processing")
    return sorted(key.decode() for key in found)


def started_at(conn: redis.Redis, job_id: str) -> float:
    text = conn.hget(f"rq:job:{job_id}", "started_at").decode()
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_every_kind_of_go_task_runs_once_under_its_asynq_id_and_not_before_due(
    go_env: dict[str, str], redis_url: str, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    specs, expected = [], []
    for n, (task_type, kind) in enumerate(
        (t, k)
        for t in ("chat:workflow", "suggestion:workflow", "event:process", "semantic_layer:sync")
        for k in KINDS
    ):
        spec, payload = go_task(task_type, kind, n)
        specs.append(spec)
        expected.append(payload)
    left = produce(redis_url, specs, retry_delay_seconds=RETRY_DELAY_SECONDS)
    assert sorted(t.state for t in left) == sorted(["retry"] * 4 + ["scheduled"] * 4 + ["pending"] * 8)
    by_spec = {(t.type, t.state, t.id): t for t in left}
    wanted = {
        job_id_for(task.id): payload
        for task, payload in zip(_in_spec_order(left, specs), expected, strict=True)
    }

    with fraiday(BRIDGE, go_env, tmp_path / "bridge.log"), fraiday(WORKER, go_env, tmp_path / "worker.log"):
        wait_for(lambda: len(recorded(redis_conn)) == 16, 60, what="16 Go tasks run")
    assert recorded(redis_conn) == wanted
    assert {k.decode(): int(v) for k, v in redis_conn.hgetall(RUNS).items()} == dict.fromkeys(wanted, 1)
    assert job_id_for("order:42").startswith("asynq-") and job_id_for("order:42") in wanted
    for task in by_spec.values():
        if task.state in ("scheduled", "retry"):
            assert started_at(redis_conn, job_id_for(task.id)) >= task.due_at, task
    assert asynq_leftovers(redis_conn) == []
    assert redis_conn.llen(DEAD_LETTERS) == 0


def _in_spec_order(left: list[LeftTask], specs: list[dict[str, Any]]) -> list[LeftTask]:
    """The producer prints retried tasks first (it fails them before enqueueing the rest)."""
    retried = [t for t in left if t.state == "retry"]
    others = [t for t in left if t.state != "retry"]
    return [retried.pop(0) if spec.get("fail_once") else others.pop(0) for spec in specs]


def test_killing_the_bridge_mid_stream_loses_nothing_and_doubles_nothing(
    go_env: dict[str, str], redis_url: str, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    event = {"client_id": "acme", "event_type": "order.created", "entity_type": "order", "payload": {}}
    specs = [
        {
            "type": "event:process",
            "queue": "events",
            "go_struct": "EventProcessorPayload",
            "payload": {**event, "event_id": f"e-{i}"},
        }
        for i in range(600)
    ]
    ids = {t.id for t in produce(redis_url, specs)}
    assert len(ids) == 600
    rng = random.Random(11)
    kills = 0

    def waiting() -> int:
        return redis_conn.llen("asynq:{events}:pending") + redis_conn.llen(processing_key("events"))

    while waiting():
        log_path = tmp_path / f"bridge-{kills}.log"
        bridge = FraidayProcess([*BRIDGE, "--queue", "events"], go_env, log_path)
        before = redis_conn.llen("rq:queue:events")
        wait_for(partial(_ready_or_gone, bridge), 30, what="ready")
        assert bridge.proc.poll() is None, bridge.output()
        wait_for(partial(_progress, redis_conn, before), 10, what="progress")
        time.sleep(rng.uniform(0.0, 0.2))
        os.kill(bridge.pid, signal.SIGKILL)
        bridge.proc.wait(5)
        kills += 1
        assert kills < 100, "the bridge never caught up"
    assert kills >= 2, "the bridge drained everything in its first life: the kill was not mid-stream"
    lives = [(tmp_path / f"bridge-{life}.log").read_text() for life in range(kills)]
    assert any("recovered 1 Asynq task(s)" in life for life in lives), "no kill fell between take and enqueue"
    with fraiday(WORKER, go_env, tmp_path / "worker.log"):
        wait_for(lambda: redis_conn.hlen(RUNS) == 600, 60, what="600 runs")
    runs = {k.decode(): int(v) for k, v in redis_conn.hgetall(RUNS).items()}
    assert set(runs) == ids
    assert set(runs.values()) == {1}
    assert asynq_leftovers(redis_conn) == []
    assert redis_conn.llen(DEAD_LETTERS) == 0


def _ready_or_gone(bridge: FraidayProcess) -> bool:
    return "bridging Asynq queues" in bridge.output() or bridge.proc.poll() is not None


def _progress(conn: redis.Redis, before: int) -> bool:
    queued = conn.llen("rq:queue:events")
    return bool(queued > before or not conn.llen("asynq:{events}:pending"))


@pytest.fixture
def bridge(settings: Settings, redis_conn: redis.Redis) -> Iterator[AsynqBridge]:
    names = TypeNames(REGISTRY, {"event:process": "EventProcessor"})
    yield AsynqBridge(redis_conn, TaskClient(redis_conn, REGISTRY), names, GO_QUEUES)


def dead_letters_metric(queue: str) -> float:
    labels = {"queue": queue, "source": "pending", "outcome": "dead_letter"}
    return METRICS.get_sample_value("fraiday_asynq_bridge_tasks_total", labels) or 0.0


def test_bad_tasks_are_dead_lettered_with_reasons_a_log_line_and_a_metric(
    bridge: AsynqBridge,
    redis_url: str,
    redis_conn: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = {"event_id": "e-1", "client_id": "acme", "event_type": "order.created", "entity_type": "order"}
    left = produce(
        redis_url,
        [
            {"type": "email:send", "queue": "events", "payload": {"to": "a@b.c"}},
            {
                "type": "EventProcessor",
                "queue": "events",
                "go_struct": "EventProcessorPayload",
                "payload": {**event, "entity_type": ""},
            },
            {
                "type": "EventProcessor",
                "queue": "events",
                "raw_payload": base64.b64encode(b"\x00\xff").decode(),
            },
            {
                "type": "EventProcessor",
                "queue": "events",
                "go_struct": "EventProcessorPayload",
                "payload": event,
                "id": "garbled",
            },
            {
                "type": "EventProcessor",
                "queue": "events",
                "go_struct": "EventProcessorPayload",
                "payload": {**event, "event_id": "e-ok"},
            },
        ],
    )
    redis_conn.hset(task_key("events", "garbled"), "msg", b"\x00\x01 not protobuf")
    before = dead_letters_metric("events")
    with caplog.at_level(logging.WARNING, logger="fraiday.asynq_bridge"):
        while bridge.step():
            pass
    dead = [json.loads(entry) for entry in redis_conn.lrange(DEAD_LETTERS, 0, -1)]
    reasons = {entry["id"]: entry["reason"] for entry in dead}
    ids = [t.id for t in left]
    assert set(reasons) == {*ids[:3], "garbled"}
    assert reasons[ids[0]].startswith("unknown Asynq task type 'email:send' (known: EventProcessor, ")
    assert "entity_type: must be 1-128 characters" in reasons[ids[1]]
    assert reasons[ids[2]] == "the payload of EventProcessor is not JSON"
    assert reasons["garbled"].startswith("not an Asynq TaskMessage")
    assert all(entry["msg"] for entry in dead), "the TaskMessage is kept to restore by hand"
    first: Any = message_class().FromString(base64.b64decode(dead[0]["msg"]))
    assert first.type == "email:send"
    assert dead_letters_metric("events") - before == 4
    lines = [r for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert len(lines) == 4
    # Log pipelines get the task and the reason as fields, like the bridge's other lines.
    assert {(r.asynq_id, r.queue, r.source, r.reason) for r in lines} == {  # type: ignore[attr-defined]
        (entry["id"], "events", "pending", entry["reason"]) for entry in dead
    }
    assert [job.decode() for job in redis_conn.lrange("rq:queue:events", 0, -1)] == [ids[4]]
    assert asynq_leftovers(redis_conn) == []


def test_an_outage_of_fraidays_redis_names_fraidays_redis_not_the_asynq_one(
    redis_url: str, redis_conn: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """ASYNQ_REDIS_URL answers, fraiday's Redis does not: the line names the one to go and fix."""
    event = {"event_id": "e-1", "client_id": "acme", "event_type": "order.created", "entity_type": "order"}
    produce(
        redis_url,
        [
            {
                "type": "event:process",
                "queue": "events",
                "go_struct": "EventProcessorPayload",
                "payload": event,
            }
        ],
    )
    down = redis.Redis(port=free_port(), socket_connect_timeout=1)
    bridge = AsynqBridge(redis_conn, TaskClient(down, REGISTRY), TypeNames(REGISTRY, {}), ["events"], 0.05)
    stop = threading.Event()
    runner = threading.Thread(target=bridge.run, args=(stop,))
    with caplog.at_level(logging.WARNING, logger="fraiday.asynq_bridge"):
        runner.start()
        try:
            wait_for(
                lambda: any("unreachable" in r.getMessage() for r in caplog.records), 10, what="outage line"
            )
        finally:
            stop.set()
            runner.join(10)
    line = next(r.getMessage() for r in caplog.records if "unreachable" in r.getMessage())
    assert line.startswith(f"Redis at {address_of(down)} unreachable (attempt 1): "), line
    assert redis_conn.llen(processing_key("events")) == 1, "the task waits in processing for the next try"


def test_a_dead_letter_written_just_before_a_kill_is_not_written_twice(
    bridge: AsynqBridge, redis_url: str, redis_conn: redis.Redis
) -> None:
    """A second entry would be restored twice by the README's rollback, and run twice on Asynq."""
    (task,) = produce(redis_url, [{"type": "email:send", "queue": "events", "payload": {"to": "a@b.c"}}])
    msg = redis_conn.hget(task_key("events", task.id), "msg")
    keys = [queue_key("events", source) for source in SOURCES] + [processing_key("events")]
    taken = Taken.parse(bridge._take(keys=keys))
    # Dead-lettered but not yet settled: the state a SIGKILL right after the dead-letter push leaves.
    assert bridge.handle("events", taken, msg).outcome == "dead_letter"

    assert bridge.recover() == 1

    (entry,) = [json.loads(raw) for raw in redis_conn.lrange(DEAD_LETTERS, 0, -1)]
    assert entry["id"] == task.id and base64.b64decode(entry["msg"]) == msg
    assert asynq_leftovers(redis_conn) == []
