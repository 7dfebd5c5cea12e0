"""A real MongoDB-wire server: the one named by FRAIDAY_TEST_MONGODB_URI, or FerretDB on SQLite.

FerretDB 1.24 is pure Go with an SQLite backend, so it needs neither Docker nor PostgreSQL; the setup
script builds it into ~/.cache/fraiday/bin. Never replace it with an in-process fake: the point is to
exercise pymongo against a real server.
"""

import os
import shutil
from pathlib import Path

import pymongo
import pymongo.errors

from tests.harness.process import HarnessError, ServerProcess, free_port

INSTALL_HINT = (
    "set FRAIDAY_TEST_MONGODB_URI to a MongoDB server, or build FerretDB 1.24.2 with ./scripts/setup.sh "
    "(needs Go)"
)


def ferretdb_binary() -> str | None:
    candidates = [
        os.environ.get("FRAIDAY_FERRETDB_BIN", ""),
        str(Path.home() / ".cache" / "fraiday" / "bin" / "ferretdb"),
        shutil.which("ferretdb") or "",
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def answers(uri: str) -> bool:
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500)
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


class FerretDBServer(ServerProcess):
    def __init__(self, workdir: Path) -> None:
        binary = ferretdb_binary()
        if binary is None:
            raise HarnessError(f"no MongoDB-wire server is available: {INSTALL_HINT}")
        self.port = free_port()
        self.base_uri = f"mongodb://127.0.0.1:{self.port}"
        data = workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        argv = [
            binary, "--handler=sqlite", f"--sqlite-url=file:{data}/", f"--state-dir={workdir}",
            f"--listen-addr=127.0.0.1:{self.port}", "--debug-addr=-", "--telemetry=disable",
            "--log-level=WARN",
        ]  # fmt: skip
        super().__init__("ferretdb", argv, workdir / "ferretdb.log", lambda: answers(self.base_uri))
