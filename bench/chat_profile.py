"""One slot's cost per chat job, in-process: ``python -m bench.chat_profile [--jobs N] [--profile]``.

The workflow scenario gives a chat job's time split from the worker's metrics, but at concurrency 10
with a 200 ms AI the few milliseconds each job spends outside the AI call are hard to see and move with
the machine's load. This runs chat jobs through one :class:`SlotWorker` built as the pool builds it, in
this process, against the harness's Redis and MongoDB-wire server and an AI stub that answers at once
(``--ai-ms`` to make it wait), and prints per job: wall time (what a slot's cycle spends besides the
AI's wait) split as the workflow scenario splits it, the slot thread's CPU, the servers' CPU, MongoDB
commands with their mean time and Redis round trips; with ``--profile``, cProfile's costliest functions
of the slot's thread (``--profile-file`` keeps them for pstats).
"""

import argparse
import cProfile
import logging
import os
import pstats
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from pymongo import monitoring

from bench.common import metric_total
from bench.costs import tree_cpu_seconds
from config import load_settings
from config.logs import configure_logging
from fraiday_cli.observability.metrics import enable_multiprocess
from fraiday_cli.tasks.client import TaskClient
from fraiday_cli.worker.rq_logs import quiet_rq_logs
from fraiday_cli.worker.slot import SlotPolicy, SlotWorker
from handlers import runtime
from handlers.services import Services
from handlers.task_types import REGISTRY
from handlers.wire_format import SERIALIZER
from tests.harness.mongo_server import FerretDBServer
from tests.harness.redis_server import RedisServer
from tests.support.http_stub import Answer, HttpStub, http_stub
from tests.support.round_trips import RoundTrips

QUEUE = "chat_workflow"
CLIENT = "profile"
SPLIT = {
    "task": "fraiday_task_duration_seconds_sum",
    "ai": "fraiday_ai_request_duration_seconds_sum",
    "mongodb": "fraiday_mongo_operation_duration_seconds_sum",
    "webhook": "fraiday_webhook_delivery_duration_seconds_sum",
    "side reads": "fraiday_side_read_duration_seconds_sum",
}


class Commands(monitoring.CommandListener):
    """Every MongoDB command this process sends, by name and collection, with its time."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.micros: Counter[str] = Counter()
        self._names: dict[int, str] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        name = f"{event.command_name} {target if isinstance(target, str) else ''}".strip()
        self._names[event.request_id] = name
        self.sent[name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.micros[self._names.pop(event.request_id, "")] += event.duration_micros

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._names.pop(event.request_id, None)

    def clear(self) -> None:
        self.sent.clear()
        self.micros.clear()


@dataclass(frozen=True)
class Reading:
    """What the run has cost so far: the handlers' own timings, the slot's CPU and the servers'."""

    wall: float
    slot_cpu: float
    split: dict[str, float]
    servers: dict[str, float]

    @classmethod
    def take(cls, metrics: Path, servers: dict[str, int], conn: redis.Redis) -> "Reading":
        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(metrics))
        exposition = generate_latest(registry).decode()
        cpu = conn.info("cpu")
        return cls(
            wall=time.perf_counter(),
            slot_cpu=time.thread_time(),
            split={part: metric_total(exposition, name) for part, name in SPLIT.items()},
            servers={
                **{name: tree_cpu_seconds(pid) for name, pid in servers.items()},
                "redis": float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
            },
        )


def _worker_settings(stub: HttpStub, redis_url: str, mongodb_uri: str, work: Path) -> None:
    """The environment and logging the workflow scenario gives its worker, with logs to a file."""
    os.environ.update(
        REDIS_URL=redis_url,
        MONGODB_URI=mongodb_uri,
        AI_SERVICE_URL=stub.url,
        LOG_LEVEL="WARNING",
        FRAIDAY_WEBHOOK_ALLOWLIST="127.0.0.1",
        PROMETHEUS_MULTIPROC_DIR=str(work / "metrics"),
    )
    enable_multiprocess()
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format, settings.secret_values())
    log_file = (work / "worker.log").open("w")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(log_file)
    runtime.bind(REGISTRY, settings)
    quiet_rq_logs()


def _enqueue(stub: HttpStub, redis_url: str, jobs: int) -> None:
    """One subscription, and ``jobs`` chat jobs each on a fresh session, as the workflow scenario has."""
    setup = Services(load_settings())
    setup.db.subscriptions.create(CLIENT, stub.url + "/hook", ["chat.response"])
    client = TaskClient(redis.Redis.from_url(redis_url), REGISTRY)
    for i in range(jobs):
        session = setup.db.chat.create_session(CLIENT)
        message = setup.db.chat.add_user_message(session, f"question {i}", suggestion_mode=False)
        client.chat_workflow(str(message["_id"]), str(session["_id"]))
    setup.close()


def _slot(redis_url: str) -> SlotWorker:
    connection = redis.Redis.from_url(redis_url)
    return SlotWorker([QUEUE], connection=connection, serializer=SERIALIZER, policy=SlotPolicy({}))


def run(
    redis_url: str, mongodb_uri: str, servers: dict[str, int], args: argparse.Namespace, work: Path
) -> None:
    commands = Commands()
    monitoring.register(commands)
    conn = redis.Redis.from_url(redis_url)
    with http_stub() as stub:
        stub.script("/v1/chat", Answer(200, {"reply": "ok"}, delay=args.ai_ms / 1000))
        stub.script("/hook", Answer(204))
        _worker_settings(stub, redis_url, mongodb_uri, work)
        _enqueue(stub, redis_url, args.jobs + 1)
        # RQ's own lines at WARNING, as the pool runs it. The first job warms imports and connections.
        _slot(redis_url).work(burst=True, max_jobs=1, logging_level="WARNING")
        worker = _slot(redis_url)
        commands.clear()
        profiler = cProfile.Profile(time.perf_counter if args.wall else time.thread_time)
        before = Reading.take(work / "metrics", servers, conn)
        with RoundTrips() as trips:
            if args.profile:
                profiler.enable()
            worker.work(burst=True, logging_level="WARNING")
            profiler.disable()
        after = Reading.take(work / "metrics", servers, conn)
        done = len(stub.to("/hook")) - 1
    _report(before, after, done, commands, trips.count, args.ai_ms)
    if args.profile:
        stats = pstats.Stats(profiler)
        if args.profile_file:
            stats.dump_stats(args.profile_file)
        stats.sort_stats("tottime").print_stats(45)


def _report(
    before: Reading, after: Reading, done: int, commands: Commands, round_trips: int, ai_ms: float
) -> None:
    wall = (after.wall - before.wall) * 1000 / done
    ms = {part: (after.split[part] - before.split[part]) * 1000 / done for part in SPLIT}
    ms["mongodb"] -= ms["side reads"]  # their commands overlap the AI call and the claim
    ms["rest of the task"] = ms["task"] - ms["ai"] - ms["mongodb"] - ms["webhook"]
    ms["queue"] = wall - ms["task"]
    ms["side reads"] = ms.pop("side reads")
    print(
        f"{done} chat jobs, AI stub {ai_ms:g} ms, load average {os.getloadavg()[0]:.2f}; per job: "
        f"{wall:.2f} ms wall, {(after.slot_cpu - before.slot_cpu) * 1000 / done:.2f} ms slot CPU, "
        f"{sum(commands.sent.values()) / done:.1f} MongoDB commands, "
        f"{round_trips / done:.1f} Redis round trips"
    )
    print("time: " + ", ".join(f"{part} {value:.2f} ms" for part, value in ms.items()))
    print(
        "servers' CPU: "
        + ", ".join(
            f"{name} {(after.servers[name] - cpu) * 1000 / done:.2f} ms"
            for name, cpu in before.servers.items()
        )
    )
    print(
        "MongoDB commands (mean ms each): "
        + ", ".join(
            f"{name} {calls / done:.2f} ({commands.micros[name] / calls / 1000:.2f})"
            for name, calls in sorted(commands.sent.items())
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--ai-ms", type=float, default=0.0, help="the AI stub's wait per call")
    parser.add_argument("--profile", action="store_true", help="print cProfile's costliest functions")
    parser.add_argument("--wall", action="store_true", help="profile wall time instead of the slot's CPU")
    parser.add_argument("--profile-file", type=Path, help="keep the profile here (pstats format)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fraiday-chat-profile-") as tmp:
        work = Path(tmp)
        redis_server = RedisServer(work / "redis")
        mongo = FerretDBServer(work / "mongo")
        redis_server.start()
        mongo.start()
        try:
            run(redis_server.url, mongo.base_uri + "/profile", mongo.pids(), args, work)
        finally:
            redis_server.stop()
            mongo.shutdown()


if __name__ == "__main__":
    main()
