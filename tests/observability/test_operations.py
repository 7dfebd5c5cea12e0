"""Metrics from two slots adding up, worker probes, server /metrics, and the operations commands."""

import json
import re
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import requests
from rq import Queue
from rq.job import Job
from typer.testing import CliRunner

from config import Settings
from fraiday_cli.main import app
from fraiday_cli.tasks.client import TaskClient
from handlers.wire_format import JOB_FUNCTION, SERIALIZER
from tests.harness.process import free_port
from tests.processes import TEST_REGISTRY, fraiday, wait_for
from tests.support.tasks import EFFECTS, REGISTRY, STARTED

WORKER = ["worker", "--queue", "events", "--concurrency", "2", "--registry", TEST_REGISTRY]
runner = CliRunner(env={"COLUMNS": "200"})


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus exposition (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name) : line.index("}") + 1]))
        if all(found.get(k) == v for k, v in labels.items()) and len(found) == len(labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_worker_metrics_add_up_across_both_slots_and_probes_answer(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    for i in range(30):
        client.enqueue("test:sleep", {"key": f"s{i}", "seconds": 0.05})
    port = free_port()
    with fraiday([*WORKER, "--metrics-port", str(port)], env, tmp_path / "worker.log") as worker:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: redis_conn.hlen(EFFECTS) == 30, 30, what="30 jobs")
        pids = {redis_conn.lindex(STARTED + f"s{i}", 0).split(b":")[0] for i in range(30)}
        assert len(pids) == 2, "both slots must have run jobs for this test to mean anything"
        wait_for(lambda: requests.get(base + "/livez", timeout=2).status_code == 200, 10, what="live")
        assert requests.get(base + "/readyz", timeout=2).json() == {"status": "ok", "redis": "ok"}
        text = requests.get(base + "/metrics", timeout=5).text
        worker.stop(signal.SIGTERM)
    labels = {"task_type": "test:sleep", "queue": "events"}
    assert sample(text, "fraiday_tasks_total", **labels, outcome="succeeded") == 30
    assert sample(text, "fraiday_task_duration_seconds_count", **labels) == 30
    assert sample(text, "fraiday_task_duration_seconds_sum", **labels) >= 30 * 0.05
    assert sample(text, "fraiday_queue_depth", queue="events", state="pending") == 0


def test_queues_json_matches_the_real_state(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    for i in range(4):
        client.enqueue("test:count", {"key": f"done{i}"})
    Queue("events", connection=redis_conn, serializer=SERIALIZER).enqueue(
        JOB_FUNCTION,
        "test:count",
        {"key": 12},  # written around the client: fails validation in the worker
    )
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: redis_conn.hlen(EFFECTS) == 4, 20, what="4 done")
        wait_for(lambda: redis_conn.zcard("rq:failed:events") == 1, 20, what="1 failed")
        worker.stop(signal.SIGTERM)
    for i in range(3):
        client.enqueue("test:count", {"key": f"waiting{i}"})
    client.enqueue("test:count", {"key": "later"}, delay=timedelta(hours=1))

    result = runner.invoke(app, ["queues", "--json", "--queue", "events"])
    assert result.exit_code == 0, result.output
    (events,) = json.loads(result.stdout)
    assert {k: events[k] for k in ("pending", "scheduled", "started", "failed", "finished", "paused")} == {
        "pending": 3, "scheduled": 1, "started": 0, "failed": 1, "finished": 4, "paused": False,
    }  # fmt: skip
    assert events["oldest_pending_seconds"] >= 0

    failed = runner.invoke(app, ["jobs", "--queue", "events", "--state", "failed", "--json"])
    (job,) = json.loads(failed.stdout)
    assert job["status"] == "failed" and "invalid payload for test:count" in job["last_error"]
    purged = runner.invoke(app, ["purge", "--queue", "events", "--state", "failed", "--older-than", "0s"])
    assert "purged 1 failed job(s)" in purged.stdout
    assert redis_conn.zcard("rq:failed:events") == 0


def idle_slots(conn: redis.Redis) -> int:
    return sum(conn.hget(key, "state") == b"idle" for key in conn.smembers("rq:workers"))


def test_a_paused_queue_is_not_processed_until_resumed(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    assert runner.invoke(app, ["pause", "--queue", "events"]).exit_code == 0
    client = TaskClient(redis_conn, REGISTRY)
    for i in range(5):
        client.enqueue("test:count", {"key": f"p{i}"})
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: idle_slots(redis_conn) == 2, 10, what="both slots waiting, the queue paused")
        assert redis_conn.hlen(EFFECTS) == 0
        assert (
            json.loads(runner.invoke(app, ["queues", "--json", "-q", "events"]).stdout)[0]["paused"] is True
        )
        assert runner.invoke(app, ["resume", "--queue", "events"]).exit_code == 0
        # Slots serving a paused queue look again every half second.
        wait_for(lambda: redis_conn.hlen(EFFECTS) == 5, 5, what="processing after resume")
        worker.stop(signal.SIGTERM)


def test_drain_returns_when_started_jobs_finish_and_times_out_otherwise(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    client.enqueue("test:sleep", {"key": "short", "seconds": 1.5})
    with fraiday(WORKER, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: redis_conn.llen(STARTED + "short") == 1, 10, what="start")
        result = runner.invoke(app, ["drain", "--queue", "events", "--timeout", "10"])
        assert result.exit_code == 0, result.output
        assert redis_conn.hget(EFFECTS, "short") == b"1"
        # Whether the other slot pops it (and puts it back) or waits elsewhere, it runs only after resume.
        behind = client.enqueue("test:count", {"key": "queued-behind"})
        resumed = datetime.now(UTC)
        runner.invoke(app, ["resume", "--queue", "events"])
        wait_for(lambda: redis_conn.hget(EFFECTS, "queued-behind") == b"1", 5, what="held job run")
        held = Job.fetch(behind.task_id, connection=redis_conn, serializer=SERIALIZER)
        assert held.started_at is not None and held.started_at.replace(tzinfo=UTC) >= resumed
        client.enqueue("test:sleep", {"key": "long", "seconds": 5})
        wait_for(lambda: redis_conn.llen(STARTED + "long") == 1, 10, what="long start")
        timed_out = runner.invoke(app, ["drain", "--queue", "events", "--timeout", "0.5"])
        assert timed_out.exit_code == 1
        assert "still running" in timed_out.stderr
        worker.stop(signal.SIGTERM)
