"""The operations commands through the real CLI: queue names checked, every outcome said, drain's
progress on a terminal only."""

import os
import pty
import subprocess
import time

import pytest
import redis
from rq.registry import StartedJobRegistry

from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.tasks.pausing import PAUSED_KEY
from handlers.wire_format import SERIALIZER
from tests.cli.test_cli import run
from tests.processes import FRAIDAY
from tests.support.tasks import REGISTRY

KNOWN = "chat_workflow, default, events, semantic_layer"


@pytest.mark.parametrize(
    "args",
    [
        ["pause", "-q", "evnets"],
        ["resume", "-q", "evnets"],
        ["drain", "-q", "evnets"],
        ["jobs", "-q", "evnets"],
        ["purge", "-q", "evnets"],
        ["requeue", "--all", "-q", "evnets"],
        ["queues", "-q", "events", "-q", "evnets"],
    ],
)
def test_an_unknown_queue_is_refused_with_the_known_ones_listed(
    env: dict[str, str], redis_conn: redis.Redis, args: list[str]
) -> None:
    result = run(args, env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"fraiday: unknown queue 'evnets'; known queues: {KNOWN}"]
    assert result.stdout == ""
    assert redis_conn.exists(PAUSED_KEY) == 0


def test_queues_moved_or_weighted_in_the_settings_are_known(env: dict[str, str]) -> None:
    moved = {**env, "FRAIDAY_TASK_QUEUES": "semantic_layer:sync=bulk", "FRAIDAY_QUEUE_WEIGHTS": "urgent=9"}
    assert run(["pause", "-q", "bulk"], moved).stdout == "paused bulk\n"
    assert run(["resume", "-q", "urgent"], moved).stdout == "urgent was not paused\n"
    refused = run(["pause", "-q", "semantic_layer"], moved)
    assert refused.returncode == 2
    assert "known queues: bulk, chat_workflow, events, urgent" in refused.stderr


def test_pause_and_resume_say_what_they_did(env: dict[str, str], redis_conn: redis.Redis) -> None:
    outputs = [run([command, "-q", "events"], env) for command in ("pause", "pause", "resume", "resume")]
    assert [(r.returncode, r.stdout, r.stderr) for r in outputs] == [
        (0, "paused events\n", ""),
        (0, "events was already paused\n", ""),
        (0, "resumed events\n", ""),
        (0, "events was not paused\n", ""),
    ]


def test_requeue_and_jobs_say_when_there_is_nothing(env: dict[str, str]) -> None:
    requeued = run(["requeue", "--all", "-q", "events"], env)
    assert (requeued.returncode, requeued.stdout) == (0, "")
    assert requeued.stderr == "nothing to requeue: no failed tasks in events\n"
    listed = run(["jobs", "-q", "events"], env)
    assert (listed.returncode, listed.stdout) == (0, "no failed jobs in events\n")


def start_a_job(redis_conn: redis.Redis) -> None:
    """A job in the started registry, as a slot running it leaves it."""
    task_id = TaskClient(redis_conn, REGISTRY).enqueue("test:count", {"key": "busy"}).task_id
    started = StartedJobRegistry("events", connection=redis_conn, serializer=SERIALIZER)
    redis_conn.zadd(started.key, {f"{task_id}:execution": time.time() + 60})


def test_drain_piped_prints_only_its_outcome(env: dict[str, str], redis_conn: redis.Redis) -> None:
    drained = run(["drain", "-q", "events", "--timeout", "5"], env)
    assert (drained.returncode, drained.stderr) == (0, "")
    assert drained.stdout.splitlines() == [
        "drained events: paused, no job running (resume with `fraiday resume --queue events`)"
    ]
    start_a_job(redis_conn)
    timed_out = run(["drain", "-q", "events", "--timeout", "1.5"], env)
    assert (timed_out.returncode, timed_out.stdout) == (1, "")
    assert timed_out.stderr.splitlines() == ["events: 1 job(s) still running after 1.5s; it stays paused"]


def test_drain_on_a_terminal_shows_running_jobs_elapsed_and_timeout(
    env: dict[str, str], redis_conn: redis.Redis
) -> None:
    start_a_job(redis_conn)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*FRAIDAY, "drain", "-q", "events", "--timeout", "1.5"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    screen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the command has exited
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)
    assert process.wait(30) == 1
    assert process.stdout is not None and process.stdout.read() == b""
    text = screen.decode()
    assert "\rdraining events: 1 job(s) running, 0s of 1.5s" in text
    assert text.count("\rdraining events: 1 job(s) running, ") >= 3, "updated every half second"
    assert text.rstrip().endswith("events: 1 job(s) still running after 1.5s; it stays paused")
