"""The Go binary's command lines, word for word from the deployment refactor, start the same roles."""

import shlex
import signal
import subprocess
from pathlib import Path

import pytest
import redis
import requests
from rq import Worker

from tests.harness.process import free_port
from tests.processes import FRAIDAY, fraiday, wait_for

SERVER_LINES = ["", "server", "--mode=server"]
WORKER_LINES = [
    ("--mode=worker --queue=events --concurrency=2", "events", 2),
    ("--mode worker --queue events --concurrency 2", "events", 2),
    ("-mode=worker -queue=events -concurrency=2", "events", 2),
    ("worker --queue=chat_workflow --concurrency=2", "chat_workflow", 2),
    ("worker --queue=events --concurrency=2", "events", 2),
    ("worker --queue=semantic_layer --concurrency=1", "semantic_layer", 1),
]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.parametrize("line", SERVER_LINES)
def test_server_lines_serve_the_api(line: str, env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    with fraiday(shlex.split(line), {**env, "PORT": str(port)}, tmp_path / "server.log") as server:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/ping"), 30, what=f"`fraiday {line}` serving")
        assert server.stop(signal.SIGTERM, timeout=40) == 0


@pytest.mark.parametrize(("line", "queue", "slots"), WORKER_LINES)
def test_worker_lines_consume_their_queue_with_their_concurrency(
    line: str, queue: str, slots: int, env: dict[str, str], redis_conn: redis.Redis, tmp_path: Path
) -> None:
    with fraiday(shlex.split(line), env, tmp_path / "worker.log") as worker:

        def registered() -> list[list[str]]:
            return [w.queue_names() for w in Worker.all(connection=redis_conn)]

        wait_for(lambda: len(registered()) == slots, 30, what=f"{slots} slot(s) of `fraiday {line}`")
        assert registered() == [[queue]] * slots
        assert worker.stop(signal.SIGTERM) == 0


def test_an_unknown_mode_is_one_line_and_exit_2(env: dict[str, str]) -> None:
    result = subprocess.run(
        [*FRAIDAY, "--mode=scheduler"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "fraiday: --mode must be one of server, worker (got 'scheduler')"
