"""Connections are made where they are used: never at import, never shared across a fork."""

import signal
import subprocess
import sys
from pathlib import Path

import pymongo
import redis
from rq.job import Job

from config import Settings
from fraiday_cli.tasks.client import TaskClient
from handlers.wire_format import SERIALIZER
from tests.processes import TEST_REGISTRY, fraiday, wait_for
from tests.support.tasks import REGISTRY


def test_importing_every_module_opens_no_connection() -> None:
    code = (
        "import socket, pkgutil, importlib\n"
        "def refuse(*a, **k): raise AssertionError('connection at import')\n"
        "socket.socket.connect = refuse\n"
        "import config, handlers, fraiday_cli\n"
        "for pkg in (config, handlers, fraiday_cli):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_a_forked_slot_uses_mongodb_through_its_own_client(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    client = TaskClient(redis_conn, REGISTRY)
    tasks = [client.enqueue("test:mongo", {"key": f"m{i}"}) for i in range(4)]
    args = ["worker", "-q", "events", "-c", "2", "--registry", TEST_REGISTRY]
    with fraiday(args, env, tmp_path / "worker.log") as worker:
        keys = [f"rq:job:{task.task_id}" for task in tasks]
        wait_for(lambda: all(redis_conn.hget(key, "status") == b"finished" for key in keys), 20, what="jobs")
        slots = set(worker.children())
        worker.stop(signal.SIGTERM)
    pids = {Job.fetch(t.task_id, connection=redis_conn, serializer=SERIALIZER).return_value()["pid"]
            for t in tasks}  # fmt: skip
    assert pids <= slots and worker.pid not in pids
    mongo: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(env["MONGODB_URI"])
    stored = list(mongo[settings.mongodb_database].probe.find({}, {"_id": 0, "key": 1}))
    assert sorted(str(d["key"]) for d in stored) == ["m0", "m1", "m2", "m3"]
    assert "fork" not in (tmp_path / "worker.log").read_text().lower()  # no pymongo fork-safety warning
