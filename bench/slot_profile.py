"""One slot's per-job cost, in-process: ``python -m bench.slot_profile [--jobs N] [--profile]``.

The overhead scenario gives a worker's CPU per job from the kernel, but not where it goes. This runs the
same no-op jobs through one :class:`SlotWorker` built as the pool builds it, in this process, and prints
CPU, Redis commands and round trips per job (the no-op's own INCR included, as in the bench) and, with
``--profile``, cProfile's costliest functions: what to cut next.
"""

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path

import redis

from bench.jobs import COUNTER, QUEUE, REGISTRY
from config import load_settings
from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.worker.slot import SlotPolicy, SlotWorker
from handlers import runtime
from handlers.wire_format import SERIALIZER
from tests.harness.redis_server import RedisServer
from tests.support.round_trips import RoundTrips


def commands(conn: redis.Redis) -> dict[str, int]:
    return {
        name.removeprefix("cmdstat_"): int(stats["calls"])
        for name, stats in conn.info("commandstats").items()
    }


def run(url: str, jobs: int, profile: bool) -> None:
    os.environ.update(REDIS_URL=url, MONGODB_URI="mongodb://127.0.0.1:9/bench", LOG_LEVEL="WARNING")
    conn = redis.Redis.from_url(url)
    client = TaskClient(conn, REGISTRY)
    for i in range(jobs + 1):
        client.enqueue("bench:noop", {"n": i})
    runtime.bind(REGISTRY, load_settings())
    worker = SlotWorker(
        [QUEUE], connection=redis.Redis.from_url(url), serializer=SERIALIZER, policy=SlotPolicy({})
    )
    worker.work(burst=True, max_jobs=1, logging_level="WARNING")  # warm: imports, connections, first writes
    worker = SlotWorker(
        [QUEUE], connection=redis.Redis.from_url(url), serializer=SERIALIZER, policy=SlotPolicy({})
    )
    profiler = cProfile.Profile(time.process_time) if profile else None
    before_commands, before_cpu, before_wall = commands(conn), time.process_time(), time.perf_counter()
    with RoundTrips() as trips:
        if profiler is not None:
            profiler.enable()
        worker.work(burst=True, logging_level="WARNING")
        if profiler is not None:
            profiler.disable()
    cpu, wall = time.process_time() - before_cpu, time.perf_counter() - before_wall
    done = int(conn.get(COUNTER) or 0) - 1
    after = commands(conn)
    by_name = {name: calls - before_commands.get(name, 0) for name, calls in after.items()}
    by_name["info"] -= 1  # this measure's own reads
    by_name["get"] -= 1
    sent = sum(by_name.values())
    print(
        f"{done} jobs in {wall:.2f} s: {cpu * 1000 / done:.3f} ms CPU, {sent / done:.1f} commands, "
        f"{trips.count / done:.1f} round trips per job (load average {os.getloadavg()[0]:.2f})"
    )
    print(", ".join(f"{name} {calls / done:.2f}" for name, calls in sorted(by_name.items()) if calls))
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="print cProfile's costliest functions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fraiday-profile-") as tmp:
        server = RedisServer(Path(tmp) / "redis")
        server.start()
        try:
            run(server.url, args.jobs, args.profile)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
