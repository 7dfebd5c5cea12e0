"""A running job's lease is renewed from a side thread (fraiday_cli.worker.lease): a job outlasting its
lease keeps it, so the pool's sweeps, which requeue a job whose lease lapsed, never start it twice.

The tests' recovery bound is 6 s: a 3 s lease, renewed every second, and a sweep every 0.6 s.
"""

import signal
import threading
import time
from pathlib import Path

import redis

from config import Settings
from fraiday_cli.tasks.client import TaskClient
from handlers.wire_format import ATTEMPTS_META, SERIALIZER
from tests.processes import TEST_REGISTRY, fraiday, wait_for
from tests.support.tasks import EFFECTS, REGISTRY, STARTED

STARTED_REGISTRY = "rq:wip:events"


def lease_margins(conn: redis.Redis, job_id: str, stop: threading.Event, margins: list[float]) -> None:
    """How far ahead of now the lease of ``job_id`` is while it runs, every 20 ms."""
    while not stop.is_set():
        now = time.time()
        for entry, score in conn.zrange(STARTED_REGISTRY, 0, -1, withscores=True):
            if entry.decode().startswith(f"{job_id}:"):
                margins.append(score - now)
        time.sleep(0.02)


def test_a_job_outlasting_its_lease_right_after_another_keeps_it_and_runs_once(
    settings: Settings, redis_conn: redis.Redis, env: dict[str, str], tmp_path: Path
) -> None:
    """Back to back in one slot: the lease thread meets the long job while waiting out the first one's
    interval, and must still renew it before its lease (3 s, counted from its own start) lapses."""
    client = TaskClient(redis_conn, REGISTRY)
    client.enqueue("test:sleep", {"key": "first", "seconds": 0.1})
    long_job = client.enqueue("test:sleep", {"key": "long", "seconds": 7.0})
    margins: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(target=lease_margins, args=(redis_conn, long_job.task_id, stop, margins))
    args = ["worker", "--queue", "events", "--concurrency", "1", "--registry", TEST_REGISTRY]
    with fraiday(args, env, tmp_path / "worker.log") as process:
        watcher.start()
        try:
            wait_for(lambda: redis_conn.hget(EFFECTS, "long") == b"1", 20, what="the long job done")
        finally:
            stop.set()
            watcher.join()
        process.stop(signal.SIGTERM)
    assert redis_conn.llen(STARTED + "long") == 1, "started twice: its lease lapsed and a sweep requeued it"
    job = redis_conn.hgetall(f"rq:job:{long_job.task_id}")
    assert job[b"status"] == b"finished"
    assert SERIALIZER.loads(job[b"meta"])[ATTEMPTS_META] == 1
    assert len(margins) > 100 and min(margins) > 1.4, min(margins)  # 3 s, renewed each second
