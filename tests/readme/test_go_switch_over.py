"""The README's switch-over from the Go service, followed as written: real Asynq leaves the tasks, the
chart's workers for the Go values and the bridge command of step 4 run them with the real handlers.

The workers' command lines and environment come from the chart rendered with the migration guide's
`workers:` block (what step 1 deploys); the bridge's command line comes from the README's step 4 (the
form for running it by hand), with only the variables the README tells the reader to set.
"""

import base64
import json
import re
import shlex
import signal
from pathlib import Path
from typing import Any

import redis
from bson import ObjectId

from fraiday_cli.asynq_bridge.bridge import DEAD_LETTERS, processing_key
from handlers.services import Services
from handlers.services.database.chat import MessageKind
from tests.charts.chart import container, env_of, render_text
from tests.charts.test_go_values import GO_WORKERS_BLOCK, workers
from tests.handlers.conftest import handler_env, handler_settings, services, stub  # noqa: F401 (fixtures)
from tests.harness.asynq_producer import consume, produce
from tests.harness.process import free_port
from tests.processes import FraidayProcess, fraiday, wait_for
from tests.readme.markdown import read, section
from tests.support.http_stub import Answer, HttpStub

STEPS = section(read("README.md"), "### Switching over from the Go service, step by step")
ROLLBACK = section(read("README.md"), "### Rolling back to the Go service")
BRIDGE_LINE = re.compile(r"`((?:[A-Z_]+=\S+ )*fraiday asynq-bridge [^`]*)`")
GO_QUEUES = ("chat_workflow", "events", "default")


def step(number: int) -> str:
    match = re.search(rf"^{number}\. (.*?)(?=^\d+\. |\Z)", STEPS, re.MULTILINE | re.DOTALL)
    assert match, f"the README has no step {number}"
    return match[1]


def bridge_command() -> tuple[dict[str, str], list[str]]:
    """Step 4's command for running the bridge by hand: its variables and its arguments after `fraiday`."""
    match = BRIDGE_LINE.search(step(4))
    assert match, "step 4 no longer shows the bridge's command line"
    words = shlex.split(match[1])
    assignments = dict(word.split("=", 1) for word in words[: words.index("fraiday")])
    return assignments, words[words.index("fraiday") + 1 :]


def chart_workers(tmp_path: Path) -> list[tuple[list[str], dict[str, str]]]:
    """Each worker of step 1 (the Go values, rendered by the chart): its args and its plain environment."""
    deployments = workers(render_text(tmp_path, GO_WORKERS_BLOCK)).values()
    assert len(deployments) == 3, deployments
    return [(container(d)["args"], env_of(container(d))) for d in deployments]


def go_tasks(built: Services) -> tuple[list[dict[str, Any]], str]:
    """What the Go service leaves at the switch: a chat reply owed for a stored message, an event, a
    scheduled event, and a sync on its `default` queue."""
    session = built.db.chat.create_session("acme")
    message = built.db.chat.add_user_message(session, "Where is my order?", suggestion_mode=False)
    event = {"client_id": "acme", "event_type": "order.created", "entity_type": "order", "payload": {}}
    specs: list[dict[str, Any]] = [
        {
            "type": "chat:workflow",
            "queue": "chat_workflow",
            "go_struct": "ChatWorkflowPayload",
            "payload": {"message_id": str(message["_id"]), "session_id": str(session["_id"])},
        },
        {
            "type": "event:process",
            "queue": "events",
            "go_struct": "EventProcessorPayload",
            "payload": {**event, "event_id": "e-now"},
        },
        {
            "type": "event:process",
            "queue": "events",
            "go_struct": "EventProcessorPayload",
            "payload": {**event, "event_id": "e-later"},
            "process_in_seconds": 3,
        },
        {
            "type": "semantic_layer:sync",
            "queue": "default",
            "go_struct": "SemanticLayerSyncPayload",
            "payload": {"client_id": "acme", "sync_type": "full"},
        },
    ]
    return specs, str(message["_id"])


def asynq_waiting(conn: redis.Redis) -> int:
    """Step 5's checks: pending, scheduled and retry of every queue, and the bridge's processing list."""
    waiting = 0
    for q in GO_QUEUES:
        waiting += conn.llen(f"asynq:{{{q}}}:pending") + conn.llen(processing_key(q))
        waiting += conn.zcard(f"asynq:{{{q}}}:scheduled") + conn.zcard(f"asynq:{{{q}}}:retry")
    return waiting


def test_following_the_switch_over_steps_runs_every_task_the_go_service_left(
    services: Services,  # noqa: F811
    stub: HttpStub,  # noqa: F811
    handler_env: dict[str, str],  # noqa: F811
    redis_url: str,
    redis_conn: redis.Redis,
    tmp_path: Path,
) -> None:
    stub.script("/v1/chat", Answer(200, {"reply": "It ships today."}))
    stub.script("/v1/semantic-layer/sync", Answer(200, {"job_id": "sl-1", "status": "accepted"}))
    specs, message_id = go_tasks(services)
    left = produce(redis_url, specs)
    assert sorted(t.state for t in left) == ["pending", "pending", "pending", "scheduled"]

    # Step 1: the chart's workers for the Go values (their plain env over the user's secret env; a
    # metrics port each, as each pod has its own network namespace).
    processes = [
        FraidayProcess(
            args,
            {**handler_env, **env, "FRAIDAY_METRICS_PORT": str(free_port())},
            tmp_path / f"worker-{n}.log",
        )
        for n, (args, env) in enumerate(chart_workers(tmp_path))
    ]
    # Step 4, by hand: the user's environment and the variables the README names on the line.
    variables, args = bridge_command()
    assert args[0] == "asynq-bridge"
    processes.append(FraidayProcess(args, {**handler_env, **variables}, tmp_path / "bridge.log"))
    try:
        # Step 5: every task ran, nothing waits in Asynq, nothing was dead-lettered.
        def finished() -> bool:
            return all(redis_conn.hget(f"rq:job:{t.id}", "status") == b"finished" for t in left)

        try:
            wait_for(finished, 90, what="every Go task finished on fraiday's workers")
        except AssertionError:
            states = {t.id: redis_conn.hmget(f"rq:job:{t.id}", "status", "origin") for t in left}
            raise AssertionError(f"not every Go task finished: {states}") from None
    finally:
        logs = "\n".join(p.output()[-1500:] for p in processes)
        for process in processes:
            process.stop(signal.SIGTERM)
    assert asynq_waiting(redis_conn) == 0, logs
    assert redis_conn.llen(DEAD_LETTERS) == 0, logs
    reply = services.db.chat.find_assistant(ObjectId(message_id), MessageKind.REPLY)
    assert reply is not None and reply["content"] == "It ships today."
    assert len(stub.to("/v1/semantic-layer/sync")) == 1


def restore_by_hand(conn: redis.Redis, entry: dict[str, Any]) -> None:
    """The rollback's restore of a dead letter: its two Redis commands as the README spells them."""
    commands = re.findall(r"`((?:HSET|LPUSH) asynq:[^`]*)`", ROLLBACK)
    assert len(commands) == 2, commands
    msg = base64.b64decode(entry["msg"])
    for command in commands:
        filled = command.replace("{q}", "{" + entry["queue"] + "}").replace("<id>", entry["id"])
        words = filled.replace("<decoded bytes>", "<msg>").split()
        conn.execute_command(*[msg if word == "<msg>" else word for word in words])


def test_rolling_back_the_go_workers_run_what_the_bridge_left_and_a_restored_dead_letter(
    env: dict[str, str], redis_url: str, redis_conn: redis.Redis, tmp_path: Path
) -> None:
    event = {"client_id": "acme", "event_type": "order.created", "entity_type": "order", "payload": {}}
    left = produce(
        redis_url,
        [
            # The Go constant's own name, which the bridge does not know without --types: a dead letter.
            {
                "type": "EventProcessor",
                "queue": "events",
                "go_struct": "EventProcessorPayload",
                "payload": {**event, "event_id": "e-dead"},
            },
            {
                "type": "event:process",
                "queue": "events",
                "go_struct": "EventProcessorPayload",
                "payload": {**event, "event_id": "e-bridged"},
            },
            {
                "type": "semantic_layer:sync",
                "queue": "default",
                "go_struct": "SemanticLayerSyncPayload",
                "payload": {"client_id": "acme", "sync_type": "full"},
            },
        ],
    )
    dead, bridged, untaken = left
    # Step 4 on the events queue only; then the rollback: stop the bridge first.
    with fraiday(["asynq-bridge", "--queue", "events"], env, tmp_path / "bridge.log") as bridge:
        wait_for(
            lambda: redis_conn.llen(DEAD_LETTERS) == 1 and not asynq_waiting_in(redis_conn, "events"), 30
        )
        assert bridge.stop(signal.SIGTERM) == 0
    # What the bridge took is a fraiday job now; what it did not take is still Asynq's.
    assert redis_conn.hget(f"rq:job:{bridged.id}", "origin") == b"events"
    assert redis_conn.exists(f"asynq:{{default}}:t:{untaken.id}")
    (entry,) = [json.loads(raw) for raw in redis_conn.lrange(DEAD_LETTERS, 0, -1)]
    assert entry["id"] == dead.id and entry["reason"].startswith("unknown Asynq task type 'EventProcessor'")
    restore_by_hand(redis_conn, entry)

    ran = consume(redis_url, ["events", "default"])

    assert sorted((t.id, t.type, t.queue) for t in ran) == sorted(
        [(dead.id, "EventProcessor", "events"), (untaken.id, "semantic_layer:sync", "default")]
    )
    assert json.loads(next(t.payload for t in ran if t.id == dead.id))["event_id"] == "e-dead"
    assert asynq_waiting(redis_conn) == 0


def asynq_waiting_in(conn: redis.Redis, queue: str) -> int:
    return (
        conn.llen(f"asynq:{{{queue}}}:pending")
        + conn.zcard(f"asynq:{{{queue}}}:scheduled")
        + conn.zcard(f"asynq:{{{queue}}}:retry")
        + conn.llen(processing_key(queue))
    )
