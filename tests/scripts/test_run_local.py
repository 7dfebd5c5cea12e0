"""``scripts/run-local.sh`` when a part of the stack cannot start: named, with its log, and all stopped.

(The happy path, Ctrl+C included, is the README's session in tests/readme.)
"""

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis

from tests.harness.mongo_server import postgres_data_dir
from tests.harness.process import free_port
from tests.harness.redis_server import RedisServer
from tests.support.local_stack import BANNER, LocalStack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    local = LocalStack(["./scripts/run-local.sh"], {**os.environ, "FRAIDAY_LOCAL_STATE": str(tmp_path)})
    try:
        yield local
    finally:
        local.kill_everything()


def test_a_part_that_exits_is_named_with_its_log_and_everything_stops(stack: LocalStack) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack.env["PORT"] = str(port)
        status = stack.run_to_exit()

    assert status == 1, stack.output
    assert BANNER not in stack.output
    assert "run-local: server exited (status 2); the end of" in stack.output
    assert f"  | fraiday: port {port} is already in use; choose another with --port or PORT" in stack.output
    assert any("redis-server" in line for line in stack.seen.values())  # it had started the rest
    assert stack.left_running() == {}


def test_a_second_run_on_the_same_state_is_refused(stack: LocalStack, tmp_path: Path) -> None:
    with (tmp_path / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        (tmp_path / "pids").write_text("server 12345\n")
        status = stack.run_to_exit(timeout=30)
    assert status == 1
    assert (
        f"run-local: {tmp_path} is in use by another run-local.sh or by processes it left running:"
        in stack.output
    )
    assert "  server 12345" in stack.output


def test_reset_deletes_the_mongodb_data_wherever_it_is_kept(stack: LocalStack, tmp_path: Path) -> None:
    """As root PostgreSQL keeps its data outside the state directory; --reset left it, so the "deleted"
    MongoDB data was back at the next start (and every test run left 40 MB in /var/tmp)."""
    kept = postgres_data_dir(tmp_path / "mongo")
    kept.mkdir(parents=True)
    (kept / "from-an-earlier-run").write_text("")
    with socket.socket() as taken:  # the server cannot start: the run ends right after the reset
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        stack.env["PORT"] = str(taken.getsockname()[1])
        stack.argv = ["./scripts/run-local.sh", "--reset"]
        assert stack.run_to_exit() == 1, stack.output
    assert f"run-local: deleted local data and logs in {tmp_path}" in stack.output
    assert not (kept / "from-an-earlier-run").exists()


def test_only_registrations_of_an_unclean_stop_are_reported_at_the_next_start(
    stack: LocalStack, tmp_path: Path
) -> None:
    """A clean stop leaves RQ's death records (``rq:worker:<name>`` with ``death``, kept 60 s): a start
    within that minute said "forgot 6 worker and scheduler registrations left by a run that did not stop
    cleanly" after every clean Ctrl+C. Only what a killed run leaves is counted: workers still in
    ``rq:workers`` and a scheduler leader."""
    data = RedisServer(tmp_path / "redis")
    data.start()
    try:
        seeded = redis.Redis.from_url(data.url)
        seeded.hset("rq:worker:stopped", mapping={"death": "2026-11-26T06:00:00Z", "state": "idle"})
        seeded.expire("rq:worker:stopped", 60)
        for name in ("killed-1", "killed-2"):
            seeded.hset(f"rq:worker:{name}", mapping={"state": "idle", "queues": "events"})
            seeded.sadd("rq:workers", f"rq:worker:{name}")
            seeded.sadd("rq:workers:events", f"rq:worker:{name}")
        seeded.set("fraiday:scheduler:leader", "killed", ex=30)
    finally:
        data.stop()
    with socket.socket() as taken:  # the server cannot start: the run ends right after the clean-up
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        stack.env["PORT"] = str(taken.getsockname()[1])
        assert stack.run_to_exit() == 1, stack.output

    assert (
        "run-local: forgot 2 worker registration(s) and a scheduler leader left by a run that did not stop"
        " cleanly" in stack.output
    ), stack.output
    data.start()
    try:
        after = redis.Redis.from_url(data.url)
        assert after.exists("rq:worker:killed-1", "rq:worker:killed-2", "fraiday:scheduler:leader") == 0
        assert after.keys("rq:workers*") == []  # the run's own workers stopped cleanly too
    finally:
        data.stop()


def block_the_port_run_local_picks(first: int, held: ExitStack) -> int:
    """Bind, without listening, the first port from ``first`` that run-local would pick: its connect test
    finds the port free, and the part it starts there cannot bind it. That is the window between picking a
    port and a part binding it, where another program (another run-local starting at the same moment on
    a shared machine) takes it."""
    port = first
    while True:
        with socket.socket() as probe:
            in_use = probe.connect_ex(("127.0.0.1", port)) == 0
        if not in_use:
            blocker = held.enter_context(socket.socket())
            try:
                blocker.bind(("0.0.0.0", port))  # no SO_REUSEADDR: any later bind of the port fails
                return port
            except OSError:  # a closed connection's TIME_WAIT: listen there, so run-local passes it by too
                blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                blocker.bind(("0.0.0.0", port))
                blocker.listen()
        port += 1


def test_a_port_taken_between_its_pick_and_its_bind_moves_the_part_to_the_next_one(
    stack: LocalStack,
) -> None:
    """Seen once in six starts on a shared machine: "worker events exited (status 2) ... port 9101 is
    already in use", and the whole stack stopped. Redis, MongoDB and the workers' metrics move on instead."""
    with ExitStack() as held:
        redis_taken = block_the_port_run_local_picks(6379, held)
        mongo_taken = block_the_port_run_local_picks(27017, held)
        metrics_taken = block_the_port_run_local_picks(9100, held)
        stack.env["PORT"] = str(free_port())
        stack.start()
    output = stack.output
    assert f"run-local: redis: port {redis_taken} was taken meanwhile; trying the next free one" in output
    assert f"run-local: mongodb: port {mongo_taken} was taken meanwhile; trying the next free one" in output
    assert (
        f"run-local: worker chat_workflow: port {metrics_taken} was taken meanwhile; trying the next free one"
        in output
    ), output
    assert f"chat_workflow :{metrics_taken} " not in output
    assert f"Redis       redis://127.0.0.1:{redis_taken}/0" not in output
    assert f"MongoDB     mongodb://127.0.0.1:{mongo_taken}/" not in output
    assert stack.interrupt() == 0, stack.output
    assert stack.left_running() == {}
