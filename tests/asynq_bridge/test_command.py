"""``fraiday asynq-bridge`` refuses what it cannot run with one line and exit code 2."""

import subprocess

import pytest

from config.addresses import masked_url
from tests.harness.process import free_port
from tests.processes import FRAIDAY


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FRAIDAY, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--types", "chat:workflow"],
            "--types (FRAIDAY_ASYNQ_TYPES): expected fraiday-type=asynq-type pairs",
        ),
        (["--types", "chat=ChatWorkflow"], "--types (FRAIDAY_ASYNQ_TYPES): unknown task type 'chat'"),
        (
            ["--types", "chat:workflow=x,event:process=x"],
            "--types (FRAIDAY_ASYNQ_TYPES): Asynq type 'x' is given to two fraiday task types",
        ),
        (
            ["--asynq-redis-url", "http://redis:6379"],
            "--asynq-redis-url: must be a redis:// or rediss:// URL",
        ),
        ([], "no --queue given and asynq:queues lists none: is this the Go service's Redis?"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, env: dict[str, str]) -> None:
    result = run(["asynq-bridge", *args], env)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"fraiday: {message}")


def test_an_unreachable_asynq_redis_is_one_line_naming_it_and_exit_1(env: dict[str, str]) -> None:
    """ASYNQ_REDIS_URL, not fraiday's Redis, is named (password masked), as every command names its Redis."""
    asynq_url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    result = run(["asynq-bridge"], {**env, "ASYNQ_REDIS_URL": asynq_url})
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"fraiday: cannot reach the Asynq Redis at {masked_url(asynq_url)}: "), line
    assert "hunter2-secret" not in result.stderr
