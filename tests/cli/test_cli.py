"""The command line: help, version, and bad input answered with one line and exit code 2."""

import json
import re
import subprocess
from typing import Any

import pytest
import redis
import typer
from typer.core import TyperOption
from typer.testing import CliRunner

from config import Settings
from fraiday_cli.main import app
from tests.processes import FRAIDAY

runner = CliRunner()


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FRAIDAY, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ([], ["server", "worker", "enqueue", "requeue", "--version"]),
        (
            ["server"],
            [
                "--host",
                "--port",
                "--workers",
                "--connections",
                "--keep-alive",
                "--graceful-timeout",
                "--access-log",
            ],
        ),
        (["worker"], ["--queue", "--concurrency", "--threads", "--strict", "--grace-period", "--max-jobs"]),
        (["enqueue"], ["--payload", "--in", "--at", "--task-id", "--list"]),
    ],
)
def test_help_describes_every_option(command: list[str], options: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0
    for option in options:
        assert option in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("fraiday ")


def test_bad_configuration_is_one_line_and_exit_2(env: dict[str, str]) -> None:
    result = run(["worker", "--queue", "events"], {**env, "REDIS_URL": "", "REDIS_PORT": "abc"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "fraiday: invalid configuration: REDIS_PORT: must be an integer between 1 and 65535, got 'abc'"
    ]
    server = run(["server"], {**env, "PORT": "http"})
    assert server.returncode == 2
    assert "PORT: must be an integer between 1 and 65535" in server.stderr
    assert "Traceback" not in server.stderr


def _invoke(settings: Settings, args: list[str]) -> Any:
    return runner.invoke(app, args)


def test_enqueue_prints_the_task_id(settings: Settings, redis_conn: redis.Redis) -> None:
    payload = json.dumps({"client_id": "acme", "sync_type": "full"})
    result = _invoke(settings, ["enqueue", "semantic_layer:sync", "--payload", payload])
    assert result.exit_code == 0, result.output
    task_id = result.stdout.strip()
    assert redis_conn.lrange("rq:queue:semantic_layer", 0, -1) == [task_id.encode()]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["enqueue", "event:process", "--payload", "{not json"], "--payload is not valid JSON"),
        (["enqueue", "event:process", "--payload", "[" * 5000 + "]" * 5000], "nested too deeply"),
        (["enqueue", "semantic_layer:sync", "--payload", '{"client_id": "a"}'], "sync_type: Field required"),
        (["enqueue", "nope:nope"], "unknown task type 'nope:nope'"),
        (["enqueue", "event:process", "--in", "soon"], "--in: 'soon' is not a duration"),
        (["enqueue"], "missing TASK_TYPE"),
        (
            [
                "enqueue",
                "semantic_layer:sync",
                "--task-id",
                "a:b",
                "--payload",
                '{"client_id": "a", "sync_type": "b"}',
            ],
            "task id 'a:b' must be 1-128 letters, digits",
        ),
    ],
)
def test_enqueue_refuses_bad_input_with_exit_2(
    settings: Settings, redis_conn: redis.Redis, args: list[str], message: str
) -> None:
    result = _invoke(settings, args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert redis_conn.keys("rq:queue:*") == []


def test_enqueue_list_shows_types_queues_and_fields(settings: Settings) -> None:
    result = _invoke(settings, ["enqueue", "--list"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["TASK", "TYPE"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"chat:workflow", "suggestion:workflow", "event:process", "semantic_layer:sync"}
    assert "chat_workflow" in rows["chat:workflow"] and "suggestion_mode" in rows["chat:workflow"]
    assert "semantic_layer" in rows["semantic_layer:sync"]


def test_a_task_type_can_be_moved_to_another_queue(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAIDAY_TASK_QUEUES", "semantic_layer:sync=default")
    result = runner.invoke(app, ["enqueue", "--list"])
    row = next(line for line in result.stdout.splitlines() if line.startswith("semantic_layer:sync"))
    assert row.split()[1] == "default"


COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
ENV_DEFAULTS = {
    "server": ["--port PORT Port to listen on. [env var: PORT; default: 8080]"],
    "worker": [
        "[env var: FRAIDAY_WORKER_GRACE_SECONDS; default: 25]",
        "[env var: FRAIDAY_METRICS_PORT; default: 9100]",
    ],
    "celery-bridge": ["[env var: CELERY_BROKER_URL; default: fraiday's own Redis]"],
}


def option_texts(help_text: str, command: Any) -> dict[str, str]:
    """Each visible option's part of ``--help`` (declaration, metavar and help), whitespace collapsed."""
    flat = " ".join(help_text.split())
    starts = []
    for param in command.params:
        if isinstance(param, TyperOption) and not param.hidden:
            declaration = ", ".join(sorted(param.opts, key=len))
            starts.append((flat.index(declaration + " ", flat.index("Options:")), param.name or ""))
    starts.sort()
    ends = [start for start, _ in starts[1:]] + [flat.index("-h, --help")] * bool(starts)
    return {name: flat[start:end] for (start, name), end in zip(starts, ends, strict=True)}


@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_every_default_and_environment_variable(name: str) -> None:
    """Through the real entry point: each option says its default (or that it is required, or is a flag);
    options read from the environment name the variable; flags take no value."""
    result = run([name, "--help"])
    assert result.returncode == 0, result.stderr
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    for option, text in option_texts(result.stdout, command).items():
        param = next(p for p in command.params if p.name == option)
        assert isinstance(param, TyperOption)
        if param.is_flag and not param.secondary_opts:
            assert text.split(" ", 1)[0].startswith("--") and " <" not in text and "BOOL" not in text, text
        else:
            assert "[default: " in text or "default: " in text or "[required]" in text, text
    for expected in ENV_DEFAULTS.get(name, []):
        assert expected in " ".join(result.stdout.split())
    options = result.stdout[result.stdout.index("Options:") :]
    assert not re.search(r"<[a-z]", options), "metavars are words (QUEUE, SECONDS), not <list[str]>"
