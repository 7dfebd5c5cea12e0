"""A real redis-server (Debian's package) with its data in a temporary directory."""

import shutil
from pathlib import Path

import redis

from tests.harness.process import HarnessError, ServerProcess, free_port

INSTALL_HINT = "install it with `apt-get install redis-server` or run ./scripts/setup.sh"


class RedisServer(ServerProcess):
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin:/usr/bin")
        if binary is None:
            raise HarnessError(f"redis-server was not found: {INSTALL_HINT}")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        workdir.mkdir(parents=True, exist_ok=True)
        argv = [
            binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(workdir),
            "--save", "", "--appendonly", "yes", "--daemonize", "no", "--protected-mode", "yes",
        ]  # fmt: skip
        super().__init__("redis-server", argv, workdir / "redis.log", self._answers)

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False
