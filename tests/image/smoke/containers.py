"""Containers of the image under test, run the way the README runs them, seen from the host."""

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.image.docker_cli import DockerCli


@dataclass(frozen=True)
class Identity:
    pid: int
    command: str
    uids: tuple[str, ...]
    """Real, effective, saved and filesystem uid, from /proc/<pid>/status."""
    gids: tuple[str, ...]


def run_argv(
    image: str, args: Sequence[str], env: dict[str, str], name: str, detach: bool, read_only: bool
) -> list[str]:
    # Host networking: the private daemon has no bridge, and Redis and FerretDB listen on loopback.
    argv = ["run", "--name", name, "--network=host", "--detach" if detach else "--rm"]
    if read_only:
        argv += ["--read-only", "--tmpfs", "/tmp"]
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    return [*argv, image, *args]


@dataclass
class Container:
    docker: DockerCli
    name: str

    @classmethod
    def start(
        cls, docker: DockerCli, image: str, args: Sequence[str], env: dict[str, str], read_only: bool = True
    ) -> "Container":
        name = f"fraiday-smoke-{uuid.uuid4().hex[:8]}"
        docker.run(*run_argv(image, args, env, name, detach=True, read_only=read_only))
        return cls(docker, name)

    def inspect(self) -> dict[str, object]:
        return json.loads(self.docker.run("inspect", self.name))[0]  # type: ignore[no-any-return]

    def state(self) -> dict[str, object]:
        return self.inspect()["State"]  # type: ignore[return-value]

    def logs(self) -> str:
        return self.docker.run("logs", self.name, merged=True)

    def exec(self, *argv: str) -> str:
        return self.docker.run("exec", self.name, *argv)

    def host_pids(self) -> list[int]:
        """Every process in the container, by its pid on the host (``docker top`` asks the host's ps)."""
        lines = self.docker.run("top", self.name, "-o", "pid").split()
        return [int(pid) for pid in lines[1:]]

    def identities(self) -> list[Identity]:
        found = []
        for pid in self.host_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except FileNotFoundError:  # exited since `docker top` listed it
                continue
            fields = dict(line.split(":", 1) for line in status if ":" in line)
            found.append(Identity(pid, command, tuple(fields["Uid"].split()), tuple(fields["Gid"].split())))
        return found

    def stop(self, *options: str) -> tuple[int, float]:
        """``docker stop`` as an operator runs it; the container's exit code and how long stopping took."""
        started = time.monotonic()
        self.docker.run("stop", *options, self.name, timeout=120)
        seconds = time.monotonic() - started
        return int(self.state()["ExitCode"]), seconds  # type: ignore[call-overload]

    def remove(self) -> None:
        self.docker.run("rm", "--force", self.name)
