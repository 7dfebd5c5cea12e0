"""``scripts/run-local.sh`` as a reader runs it: started from the repository, stopped with Ctrl+C.

The script starts its parts in their own sessions, so the only handle on them is the process tree:
every descendant seen while it runs is recorded, and after the stop each must be gone.
"""

import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.mongo_server import postgres_data_dir

ROOT = Path(__file__).resolve().parents[2]
BANNER = "fraiday is running"


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
            for child in children:
                if child not in found:
                    found.add(child)
                    pending.append(child)
    return found


def command_line(pid: int) -> str | None:
    """The process's command line, or None once it is gone (a zombie counts as gone)."""
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return None
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except (OSError, IndexError):
        return None


@dataclass
class LocalStack:
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)
    seen: dict[int, str] = field(default_factory=dict)
    """Every process the script started (and theirs), with its command line, as last seen alive."""

    def start(self, timeout: float = 240) -> None:
        process = self._spawn()
        deadline = time.monotonic() + timeout
        while not any(BANNER in line for line in self.lines):
            if process.poll() is not None:
                raise AssertionError(f"run-local.sh exited with {process.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no banner within {timeout}s:\n{self.output}")
            self.record()
            time.sleep(0.2)
        self.record()

    def _spawn(self) -> "subprocess.Popen[str]":
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )
        threading.Thread(target=self._read, daemon=True).start()
        return self.process

    def run_to_exit(self, timeout: float = 240) -> int:
        """For a start that must fail: its exit status, with every process it started recorded."""
        process = self._spawn()
        deadline = time.monotonic() + timeout
        while process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"run-local.sh still running after {timeout}s:\n{self.output}")
            self.record()
            time.sleep(0.1)
        return process.returncode

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def record(self) -> None:
        assert self.process is not None
        for pid in descendants(self.process.pid):
            line = command_line(pid)
            if line:
                self.seen[pid] = line

    def interrupt(self, timeout: float = 90) -> int:
        """Ctrl+C: SIGINT to the terminal's foreground process group, the script's."""
        assert self.process is not None
        self.record()
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"run-local.sh did not stop within {timeout}s:\n{self.output}") from None

    def left_running(self) -> dict[int, str]:
        return {pid: line for pid, line in self.seen.items() if command_line(pid) == line}

    def kill_everything(self) -> None:
        """After a test: nothing of the stack may outlive it, nor its data."""
        if self.process is not None and self.process.poll() is None:
            self.record()
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in self.left_running():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        if self.process is not None:
            self.process.wait(10)
        state = self.env.get("FRAIDAY_LOCAL_STATE")
        if state is not None:  # run-local keeps MongoDB's data; as root some of it outside the state dir
            shutil.rmtree(postgres_data_dir(Path(state) / "mongo"), ignore_errors=True)
