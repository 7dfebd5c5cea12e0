"""Without ``PROMETHEUS_MULTIPROC_DIR`` each command makes its own metrics directory: it must not outlive
the command (every start used to leave one in /tmp), nor vanish while the command's processes write."""

import os
import signal
from functools import partial
from pathlib import Path

from tests.harness.process import free_port
from tests.processes import TEST_REGISTRY, fraiday, wait_for
from tests.support.http_checks import answers_ping


def metrics_dirs(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("fraiday-metrics-*"))


def quiet_env(env: dict[str, str], tmp: Path) -> dict[str, str]:
    tmp.mkdir()
    return {**{k: v for k, v in env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}, "TMPDIR": str(tmp)}


def test_a_worker_removes_the_metrics_directory_it_made(env: dict[str, str], tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    args = ["worker", "-q", "events", "-c", "2", "--registry", TEST_REGISTRY]
    with fraiday(args, quiet_env(env, tmp), tmp_path / "worker.log") as worker:
        wait_for(lambda: len(worker.children()) >= 2 and len(metrics_dirs(tmp)) == 1, 30, what="slots")
        assert worker.stop(signal.SIGTERM) == 0
    assert metrics_dirs(tmp) == []


def test_a_server_keeps_its_metrics_directory_while_its_workers_come_and_go(
    env: dict[str, str], tmp_path: Path
) -> None:
    tmp = tmp_path / "tmp"
    port = free_port()
    args = ["server", "--port", str(port), "--workers", "2"]
    with fraiday(args, quiet_env(env, tmp), tmp_path / "server.log") as server:
        answers = partial(answers_ping, port)
        wait_for(answers, 30, what="the server answering /ping")
        wait_for(lambda: len(server.children()) == 2, 30, what="two gunicorn workers")
        first = server.children()
        os.kill(first[0], signal.SIGTERM)  # a worker's own clean exit runs the exit hooks it inherited
        respawned = lambda: first[0] not in server.children() and len(server.children()) == 2  # noqa: E731
        wait_for(respawned, 30, what="a new worker in its place")
        wait_for(answers, 30, what="the server answering /ping again")
        assert len(metrics_dirs(tmp)) == 1, "an exiting worker removed the master's metrics directory"
        assert server.stop(signal.SIGTERM) == 0
    assert metrics_dirs(tmp) == []
