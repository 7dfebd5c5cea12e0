"""A real MongoDB-wire server: the one named by FRAIDAY_TEST_MONGODB_URI, or FerretDB on PostgreSQL.

FerretDB 1.24 (built by scripts/setup.sh into ~/.cache/fraiday/bin) speaks the MongoDB wire protocol
over Debian's PostgreSQL. Not its SQLite backend: that one reads the whole collection for every query,
even by `_id`, so a store's cost grew with every document (a chat job's database work took 0.7 s at
1,000 documents per collection and 39 s at 50,000). On PostgreSQL equality filters are pushed down,
and `ferretdb_gin_indexes.sql` makes them index scans. Never replace it with an in-process fake: the
point is to exercise pymongo against a real server.

Run `python -m tests.harness.mongo_server --dir DIR --port PORT` to serve one in the foreground (what
`scripts/run-local.sh` does); SIGINT or SIGTERM stops FerretDB, then PostgreSQL.
"""

import argparse
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pymongo
import pymongo.errors

from tests.harness.process import HarnessError, ServerProcess, free_port

INSTALL_HINT = (
    "set FRAIDAY_TEST_MONGODB_URI to a MongoDB server, or run ./scripts/setup.sh (installs Debian's "
    "postgresql and builds FerretDB 1.24.2, which needs Go)"
)
GIN_INDEXES_SQL = Path(__file__).with_name("ferretdb_gin_indexes.sql")
# PostgreSQL refuses to run as root; as root the harness runs it as the package's own user.
POSTGRES_USER_WHEN_ROOT = "postgres"


def ferretdb_binary() -> str | None:
    candidates = [
        os.environ.get("FRAIDAY_FERRETDB_BIN", ""),
        str(Path.home() / ".cache" / "fraiday" / "bin" / "ferretdb"),
        shutil.which("ferretdb") or "",
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def postgres_bindir() -> Path | None:
    """Debian keeps the server binaries out of PATH, one directory per major version: take the newest."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name)
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path else None


def answers(uri: str) -> bool:
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500)
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


def postgres_data_dir(workdir: Path) -> Path:
    """As root, the cluster lives where the postgres user can reach it, keyed by `workdir`.

    Test temp directories (and a checkout under /root) are closed to other users, so the data goes
    to /var/tmp, under a name derived from `workdir` so a restart finds the same data. Whoever keeps it
    (run-local.sh) removes it with ``--remove-data``: deleting `workdir` leaves it behind.
    """
    if os.geteuid() != 0:
        return workdir / "postgresql"
    key = hashlib.sha256(str(workdir.resolve()).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"fraiday-postgresql-{key}"


class PostgresServer(ServerProcess):
    """A throwaway PostgreSQL cluster on a free loopback port, trusting local connections."""

    def __init__(self, workdir: Path, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.user = POSTGRES_USER_WHEN_ROOT if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        self.data = postgres_data_dir(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        argv = [
            *self._as_user(), str(bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.data}",
            # Test data: durability is not needed, speed is.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200",
            # FerretDB sends `_jsonb->$1 @> $2` as prepared statements. After five runs PostgreSQL may
            # switch to a generic plan, where the field is a parameter that no index expression can
            # match: a sequential scan from then on. Custom plans see the field name and use the index.
            "-c", "plan_cache_mode=force_custom_plan",
        ]  # fmt: skip
        super().__init__("postgresql", argv, workdir / "postgresql.log", self._answers)

    def _as_user(self) -> list[str]:
        return ["runuser", "-u", self.user, "--"] if self.as_root else []

    def initialize(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.data, self.user, self.user)
        self.data.chmod(0o700)
        self._run(
            [
                *self._as_user(),
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            "initdb",
        )

    def _answers(self) -> bool:
        probe = subprocess.run(
            [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)], check=False
        )
        return probe.returncode == 0

    def psql(self, *args: str) -> None:
        self._run(
            [
                str(self.bindir / "psql"),
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                "postgres",
                *args,
            ],
            "psql",
        )

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/postgres"

    def remove_data(self) -> None:
        shutil.rmtree(self.data, ignore_errors=True)

    def _run(self, argv: list[str], what: str) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise HarnessError(f"{what} failed ({done.returncode}): {done.stderr.strip() or done.stdout}")


class FerretDBServer(ServerProcess):
    """FerretDB in front of its own PostgreSQL. `stop()`/`start()` take only the wire server down and
    up (what an outage test needs); `shutdown()` stops both."""

    def __init__(self, workdir: Path, port: int | None = None, keep_data: bool = False) -> None:
        binary = ferretdb_binary()
        bindir = postgres_bindir()
        if binary is None or bindir is None:
            raise HarnessError(f"no MongoDB-wire server is available: {INSTALL_HINT}")
        self.keep_data = keep_data
        self.postgres = PostgresServer(workdir, bindir)
        self.port = port or free_port()
        self.base_uri = f"mongodb://127.0.0.1:{self.port}"
        argv = [
            binary, "--handler=postgresql", f"--postgresql-url={self.postgres.url}",
            f"--state-dir={workdir}", f"--listen-addr=127.0.0.1:{self.port}", "--debug-addr=-",
            "--telemetry=disable", "--log-level=WARN",
        ]  # fmt: skip
        super().__init__("ferretdb", argv, workdir / "ferretdb.log", lambda: answers(self.base_uri))

    def start(self, timeout: float = 30.0) -> None:
        if self.postgres.process is None or self.postgres.process.poll() is not None:
            self.postgres.initialize()
            self.postgres.start(timeout)
            self.postgres.psql("-f", str(GIN_INDEXES_SQL))
        super().start(timeout)

    def pids(self) -> dict[str, int]:
        """The running processes by name, for measuring what each costs."""
        running = {"ferretdb": self.process, "postgresql": self.postgres.process}
        return {name: process.pid for name, process in running.items() if process is not None}

    def shutdown(self) -> None:
        self.stop()
        self.postgres.stop()
        if not self.keep_data:
            self.postgres.remove_data()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve FerretDB on PostgreSQL until interrupted.")
    parser.add_argument("--dir", type=Path, required=True, help="state and logs (data is kept)")
    parser.add_argument("--port", type=int, help="MongoDB-wire port on 127.0.0.1")
    parser.add_argument(
        "--remove-data", action="store_true", help="delete the data kept for --dir, then exit"
    )
    args = parser.parse_args()
    if args.remove_data:
        shutil.rmtree(postgres_data_dir(args.dir), ignore_errors=True)
        return
    if args.port is None:
        parser.error("--port is required to serve")
    server = FerretDBServer(args.dir, port=args.port, keep_data=True)
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.start()
    except HarnessError as exc:
        server.shutdown()
        sys.exit(f"mongo-wire server: {exc}")
    print(f"{server.base_uri} (FerretDB on PostgreSQL, data in {server.postgres.data})", flush=True)
    while not stopping and server.process is not None and server.process.poll() is None:
        _wait(server)
    server.shutdown()


def _wait(server: FerretDBServer) -> None:
    assert server.process is not None
    try:
        server.process.wait(1.0)
    except subprocess.TimeoutExpired:
        return


if __name__ == "__main__":
    main()
