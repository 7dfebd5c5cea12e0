"""The README's Commands and Operations, run as written after its Quick start's PATH line.

One-shot commands must succeed against a real Redis and MongoDB; the long-running ones (server, worker,
scheduler, bridge) must come up and stop cleanly on SIGTERM. Only the ports come from the environment,
through the variables the README names (PORT, FRAIDAY_METRICS_PORT).
"""

import json
import os
import shlex
import signal
import subprocess
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest

from tests.harness.process import free_port
from tests.processes import wait_for
from tests.readme.bash_session import BashSession
from tests.readme.markdown import ROOT, commands, fenced_blocks, read, section

LONG_RUNNING = ("server", "worker", "scheduler", "celery-bridge", "asynq-bridge")


def readme_commands(heading: str) -> list[str]:
    return [
        c for block in fenced_blocks(section(read("README.md"), heading), "bash") for c in commands(block)
    ]


def path_setup() -> str:
    (line,) = [c for c in readme_commands("## Quick start") if c.startswith("source ")]
    return line


def role(command: str) -> str | None:
    """The long-running role a ``fraiday`` command line starts, or None for a command that returns."""
    argv = shlex.split(command, comments=True)
    assert argv[0] == "fraiday", command
    for arg in argv[1:]:
        if arg.startswith("--mode="):
            return arg.removeprefix("--mode=")
    words = [arg for arg in argv[1:] if not arg.startswith("-")]
    if not argv[1:]:
        return "server"
    return words[0] if words and words[0] in LONG_RUNNING else None


FRAIDAY_COMMANDS = readme_commands("## Commands") + readme_commands("## Operations")
ONE_SHOT = [c for c in FRAIDAY_COMMANDS if role(c) is None]
STARTING = [c for c in FRAIDAY_COMMANDS if role(c) is not None]


@pytest.fixture
def reader_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "PORT": str(free_port()), "FRAIDAY_METRICS_PORT": str(free_port())}


def test_the_commands_that_return_run_as_written(reader_env: dict[str, str]) -> None:
    assert len(ONE_SHOT) >= 10
    with BashSession(ROOT, reader_env) as bash:
        assert bash.run(path_setup()).status == 0
        assert bash.run("command -v fraiday").output == str(ROOT / ".venv" / "bin" / "fraiday")
        for command in ONE_SHOT:
            step = bash.run(command)
            assert step.status == 0 and "Traceback" not in step.output, step
            if command.split("#")[0].strip() == "fraiday queues --json":
                assert {q["queue"] for q in json.loads(step.output)} >= {"chat_workflow", "events"}
            if "enqueue event:process" in command:
                assert step.output.strip(), "enqueue prints the task id"


def answers_200(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    return check


@pytest.mark.parametrize("command", STARTING, ids=[c.split("#")[0].strip() for c in STARTING])
def test_the_commands_that_start_a_process_come_up_and_stop_on_sigterm(
    command: str, reader_env: dict[str, str], tmp_path: Path
) -> None:
    log_path = tmp_path / "out.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", "-e", "-c", f"{path_setup()}\nexec {command}"],
            cwd=ROOT,
            env=reader_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    output = lambda: log_path.read_text(errors="replace")  # noqa: E731
    ready = {
        "server": answers_200(f"http://127.0.0.1:{reader_env['PORT']}/health"),
        "worker": answers_200(f"http://127.0.0.1:{reader_env['FRAIDAY_METRICS_PORT']}/readyz"),
        "scheduler": lambda: "scheduler started" in output(),
        "celery-bridge": lambda: "bridging Celery queues" in output(),
        "asynq-bridge": lambda: "bridging Asynq queues" in output(),
    }[str(role(command))]
    try:
        wait_for(lambda: ready() or process.poll() is not None, 60, what=command)
        assert process.poll() is None, output()
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, output()
        assert "Traceback" not in output(), output()
    finally:
        # The whole process group: slots or gunicorn workers must not outlive a failed test.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
