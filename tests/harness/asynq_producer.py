"""The Go service's side of the switch-over: a small Go program on the real Asynq library.

``tests/support/asynq_producer`` is built with ``go build`` (modules from the Go module proxy, pinned by
its go.sum) once per version of its sources, into ``~/.cache/fraiday/asynq-producer/``.
"""

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness.process import HarnessError

SOURCE = Path(__file__).resolve().parents[1] / "support" / "asynq_producer"
CACHE = Path.home() / ".cache" / "fraiday" / "asynq-producer"


@dataclass(frozen=True)
class LeftTask:
    """A task as the Go service left it in Redis."""

    id: str
    type: str
    queue: str
    state: str
    due_at: int


def binary() -> Path:
    digest = hashlib.sha256()
    for name in ("main.go", "go.mod", "go.sum"):
        digest.update((SOURCE / name).read_bytes())
    target = CACHE / digest.hexdigest()[:16] / "asynq-producer"
    if target.exists():
        return target
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.access(go, os.X_OK):
        raise HarnessError("Go is needed to build the Asynq producer for the asynq-bridge tests")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    result = subprocess.run(
        [go, "build", "-trimpath", "-o", str(partial), "."],
        cwd=SOURCE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "GOFLAGS": "-mod=readonly"},
    )
    if result.returncode != 0:
        raise HarnessError(f"building the Asynq producer failed:\n{result.stderr[-3000:]}")
    partial.rename(target)
    return target


def run_program(args: list[str], stdin: str | None, what: str) -> list[dict[str, Any]]:
    """Run the Go test program; its JSON lines."""
    result = subprocess.run(
        [str(binary()), *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise HarnessError(f"{what} failed:\n{result.stderr[-3000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def produce(redis_url: str, specs: list[dict[str, Any]], retry_delay_seconds: int = 3) -> list[LeftTask]:
    """Leave ``specs`` in Redis with real Asynq; return each task as Asynq reports it."""
    args = ["-redis", redis_url, "-retry-delay", f"{retry_delay_seconds}s"]
    return [LeftTask(**line) for line in run_program(args, json.dumps(specs), "the Asynq producer")]


@dataclass(frozen=True)
class RanTask:
    """A task the Go service's worker ran (after a rollback)."""

    id: str
    type: str
    queue: str
    payload: str


def consume(redis_url: str, queues: list[str]) -> list[RanTask]:
    """Run the Go service's worker (a real Asynq server) until ``queues`` are empty; what it ran."""
    args = ["-redis", redis_url, "-consume", ",".join(queues)]
    return [RanTask(**line) for line in run_program(args, None, "the Go worker")]
