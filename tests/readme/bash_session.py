"""One bash process fed commands one at a time, like a terminal a reader pastes into.

Variables and functions a command defines stay for the next, and the test can look at each command's
output (stdout and stderr together, as a terminal shows them) before it sends the next.
"""

import os
import queue
import signal
import subprocess
import threading
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType


@dataclass(frozen=True)
class Step:
    command: str
    status: int
    output: str


class BashSession:
    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.sentinel = f"__step_done_{uuid.uuid4().hex}__"
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def run(self, command: str, timeout: float = 60) -> Step:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\nprintf '\\n{self.sentinel} %s\\n' $?\n")
        self.process.stdin.flush()
        output: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no answer in {timeout}s from: {command}\n{''.join(output)}") from None
            if line is None:
                raise AssertionError(f"bash exited during: {command}\n{''.join(output)}")
            if line.startswith(self.sentinel):
                return Step(command, int(line.split()[1]), "".join(output).strip("\n"))
            output.append(line)

    def __enter__(self) -> "BashSession":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # The whole process group: a command still running (a test that timed out) must not outlive it.
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
