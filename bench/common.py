"""What every scenario shares: the servers, the environment of the processes under test, timing helpers."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


@dataclass
class Stack:
    redis_url: str
    mongodb_uri: str
    logs: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "MONGODB_URI": self.mongodb_uri,
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
            "FRAIDAY_METRICS_PORT": "0",
            "FRAIDAY_API_KEYS": "bench-key",
            "FRAIDAY_WEBHOOK_ALLOWLIST": "127.0.0.1",
            **extra,
        }

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)


def spawn(argv: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        list(argv), env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.005) -> float:
    """Poll until ``condition`` holds; return the time.time() at which it was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def fraiday(*args: str) -> list[str]:
    return [sys.executable, "-m", "fraiday_cli", *args]


def metric_total(exposition: str, name: str) -> float:
    """The sum of every series of ``name`` in a Prometheus exposition."""
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total
