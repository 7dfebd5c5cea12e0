"""A port already taken: one line naming the port and the option or variable that moves it, exit 2."""

import socket
import subprocess
from collections.abc import Iterator

import pytest

from tests.processes import FRAIDAY


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on (on loopback, which also blocks fraiday's 0.0.0.0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FRAIDAY, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def assert_one_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [expected]
    assert "Traceback" not in result.stdout


@pytest.mark.parametrize("by_variable", [False, True], ids=["--port", "PORT"])
def test_server_port_in_use(env: dict[str, str], taken_port: int, by_variable: bool) -> None:
    args, extra = (
        (["server"], {"PORT": str(taken_port)})
        if by_variable
        else (["server", "--port", str(taken_port)], {})
    )
    result = run(args, {**env, **extra})
    assert_one_line(
        result, f"fraiday: port {taken_port} is already in use; choose another with --port or PORT"
    )


@pytest.mark.parametrize("by_variable", [False, True], ids=["--metrics-port", "FRAIDAY_METRICS_PORT"])
def test_worker_metrics_port_in_use(env: dict[str, str], taken_port: int, by_variable: bool) -> None:
    port = str(taken_port)
    args = ["worker", "--queue", "events"]
    if by_variable:
        result = run(args, {**env, "FRAIDAY_METRICS_PORT": port})
    else:
        result = run([*args, "--metrics-port", port], env)
    assert_one_line(
        result,
        f"fraiday: port {taken_port} is already in use; "
        "choose another with --metrics-port or FRAIDAY_METRICS_PORT",
    )
