"""The docker command line pointed at one daemon: every docker call of the image session goes through it."""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


class DockerError(RuntimeError):
    """A docker command failed; the message holds the command and the end of its output."""


@dataclass(frozen=True)
class DockerCli:
    binary: str
    host: str
    """A DOCKER_HOST value, e.g. ``unix:///tmp/fraiday-image-x/docker.sock``."""

    @property
    def env(self) -> dict[str, str]:
        # BuildKit for `RUN --mount=type=secret`; Debian's 20.10 client has it built in (no buildx).
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "1"}

    def run(self, *args: str, timeout: float = 120, stdin: int | None = None, merged: bool = False) -> str:
        """The command's stdout (with its stderr when ``merged``, as ``docker logs`` splits the two)."""
        proc = subprocess.run(
            [self.binary, *args],
            check=False,
            env=self.env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merged else subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            said = (proc.stderr or proc.stdout).strip()[-2000:]
            raise DockerError(f"docker {' '.join(args[:2])} exited {proc.returncode}: {said}")
        return proc.stdout

    def run_logged(self, *args: str, log: Path, timeout: float) -> None:
        """For long commands (a build): the whole output goes to ``log``, its end into the error."""
        with log.open("w") as out:
            proc = subprocess.run(
                [self.binary, *args],
                check=False,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        if proc.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            raise DockerError(f"docker {args[0]} exited {proc.returncode} (log: {log}):\n{tail}")

    def answers(self) -> bool:
        try:
            self.run("version", "--format", "{{.Server.Version}}", timeout=10)
        except (DockerError, subprocess.TimeoutExpired):
            return False
        return True
