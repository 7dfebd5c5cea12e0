"""Running real ``fraiday`` processes in tests and waiting on what they do."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import redis
from rq.queue import Queue
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

FRAIDAY = [sys.executable, "-m", "fraiday_cli"]
TEST_REGISTRY = "tests.support.tasks:REGISTRY"


def wait_for(condition: Callable[[], object], timeout: float, interval: float = 0.05, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")


def settled(conn: redis.Redis, queues: Sequence[str]) -> bool:
    """No job of ``queues`` is waiting, running or scheduled: nothing is left that could run again.

    The signal to wait on before asserting that nothing ran twice, instead of a sleep. Registries are
    read raw: their ``count`` runs RQ's cleanup, which would act on the worker's behalf.
    """
    for name in queues:
        queue = Queue(name, connection=conn)
        registries = (StartedJobRegistry(queue=queue), ScheduledJobRegistry(queue=queue))
        if conn.llen(queue.key) or any(conn.zcard(registry.key) for registry in registries):
            return False
    return True


class FraidayProcess:
    def __init__(self, args: Sequence[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [*FRAIDAY, *args], env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def children(self) -> list[int]:
        """Slot processes: direct children running fraiday code (not RQ's scheduler grandchildren)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(
                f"fraiday did not exit within {timeout}s of {sig}:\n{self.output()[-3000:]}"
            ) from None
        finally:
            self._log.close()

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")


@contextmanager
def fraiday(args: Sequence[str], env: dict[str, str], log_path: Path) -> Iterator[FraidayProcess]:
    process = FraidayProcess(args, env, log_path)
    try:
        yield process
    finally:
        # The whole process group: slots and the schedulers they fork must not outlive the test.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.proc.wait(10)
