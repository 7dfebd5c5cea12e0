"""Scenario 2: the I/O-bound chat workflow against an AI stub answering in 200 ms and a webhook receiver.

Throughput is measured with every job queued up front and compared with the ideal, concurrency divided
by the AI latency. Latency is measured at light load (a steady rate well under capacity): enqueue to
start, from RQ's own timestamps, and enqueue to webhook received. On a shared machine the CPU each
process spends per job says where the gap to the ideal goes, so it is measured too, per process.

``nox -s bench -- --only workflow`` (or ``python -m bench.workflow``) runs this scenario alone, on its own
servers (``--jobs``, ``--concurrency``, ``--light-jobs``), and prints its results as JSON.
"""

import argparse
import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
from rq.job import Job
from rq.serializers import JSONSerializer

from bench.common import Stack, fraiday, metric_total, percentile, spawn, stop, wait_until
from bench.costs import tree_cpu_seconds
from config import load_settings
from fraiday_cli.tasks.client import TaskClient
from handlers.services import Services
from handlers.task_types import REGISTRY
from tests.harness.mongo_server import FerretDBServer
from tests.harness.process import free_port
from tests.harness.redis_server import RedisServer
from tests.support.http_stub import Answer, HttpStub, http_stub

AI_LATENCY = 0.2


def _conversations(services: Services, stub: HttpStub, count: int, client_id: str) -> list[tuple[str, str]]:
    services.db.subscriptions.create(client_id, stub.url + "/hook", ["chat.response"])
    pairs = []
    for i in range(count):
        session = services.db.chat.create_session(client_id)
        message = services.db.chat.add_user_message(session, f"question {i}", suggestion_mode=False)
        pairs.append((str(message["_id"]), str(session["_id"])))
    return pairs


def _hooks_by_message(stub: HttpStub) -> dict[str, float]:
    return {r.json()["data"]["message_id"]: r.received_at for r in stub.to("/hook")}


def _cpu_seconds(worker_pid: int, servers: Mapping[str, int], conn: Any) -> dict[str, float]:
    """CPU seconds so far of the worker's tree, each server's tree, Redis (from INFO) and this process,
    which runs the AI stub and the webhook receiver (and the poll that waits for them)."""
    cpu = conn.info("cpu")
    own = os.times()
    return {
        "worker": tree_cpu_seconds(worker_pid),
        "redis": float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
        **{name: tree_cpu_seconds(pid) for name, pid in servers.items()},
        "bench (AI stub, webhook receiver)": own.user + own.system,
    }


def _metrics_once(port: int, counter: str, at_least: int) -> str:
    """The worker's exposition once ``counter`` has reached ``at_least``."""
    exposition = ""

    def reached() -> bool:
        nonlocal exposition
        exposition = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        return metric_total(exposition, counter) >= at_least

    wait_until(reached, 60, interval=0.05)
    return exposition


def run(
    stack: Stack,
    jobs: int = 2000,
    concurrency: int = 10,
    light_jobs: int = 100,
    light_rate: float = 5.0,
    servers: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """``servers`` names the process ids of the database servers whose CPU per job is reported."""
    with http_stub() as stub:
        stub.script("/v1/chat", Answer(200, {"reply": "ok"}, delay=AI_LATENCY))
        stub.script("/hook", Answer(204))
        metrics_port = free_port()
        env = stack.env(AI_SERVICE_URL=stub.url, FRAIDAY_METRICS_PORT=str(metrics_port))
        services = Services(load_settings(redis_url_override=stack.redis_url, mongodb_uri=stack.mongodb_uri))
        conn = stack.redis()
        conn.flushdb()
        client = TaskClient(conn, REGISTRY)
        bulk = _conversations(services, stub, jobs, "bench-bulk")
        for message_id, session_id in bulk:
            client.chat_workflow(message_id, session_id)
        worker = spawn(
            fraiday("worker", "--queue", "chat_workflow", "--concurrency", str(concurrency)),
            env,
            stack.logs / "workflow-worker.log",
        )
        try:
            wait_until(lambda: bool(stub.to("/v1/chat")), 120)
            cpu_at_start = _cpu_seconds(worker.pid, servers or {}, conn)
            wait_until(lambda: len(stub.to("/hook")) >= jobs, 600, interval=0.05)
            cpu_at_end = _cpu_seconds(worker.pid, servers or {}, conn)
            load = round(os.getloadavg()[0], 2)
            times = sorted(_hooks_by_message(stub).values())
            first_start = min(r.received_at for r in stub.to("/v1/chat"))
            throughput = jobs / (times[-1] - first_start)
            # The split is of the bulk run: its last tasks record their time just after their webhook.
            exposition = _metrics_once(metrics_port, "fraiday_tasks_total", jobs)

            light = _conversations(services, stub, light_jobs, "bench-light")
            enqueued: dict[str, tuple[float, str]] = {}
            for message_id, session_id in light:
                enqueued[message_id] = (time.time(), client.chat_workflow(message_id, session_id).task_id)
                time.sleep(1 / light_rate)
            wait_until(lambda: len(stub.to("/hook")) >= jobs + light_jobs, 120, interval=0.05)
        finally:
            stop(worker)
        hooks = _hooks_by_message(stub)
        to_webhook = [(hooks[m] - t) * 1000 for m, (t, _) in enqueued.items()]
        to_start = []
        for _, task_id in enqueued.values():
            job = Job.fetch(task_id, connection=conn, serializer=JSONSerializer)
            if job.started_at is not None and job.enqueued_at is not None:
                to_start.append((job.started_at - job.enqueued_at).total_seconds() * 1000)
        services.close()
    ideal = concurrency / AI_LATENCY

    def per_job_ms(name: str) -> float:
        return metric_total(exposition, name) / jobs * 1000

    task = per_job_ms("fraiday_task_duration_seconds_sum")
    # The side reads overlap the claim and the AI call: MongoDB's share of the task is the other commands'.
    side_reads = per_job_ms("fraiday_side_read_duration_seconds_sum")
    split = {
        "ai": per_job_ms("fraiday_ai_request_duration_seconds_sum"),
        "mongodb": per_job_ms("fraiday_mongo_operation_duration_seconds_sum") - side_reads,
        "webhook": per_job_ms("fraiday_webhook_delivery_duration_seconds_sum"),
    }
    # Each slot takes concurrency / throughput per job; what the task did not spend is the queue's share.
    cycle = concurrency / throughput * 1000

    return {
        "jobs": jobs,
        "concurrency": concurrency,
        "jobs_per_second": round(throughput, 1),
        "ideal_jobs_per_second": ideal,
        "share_of_ideal": round(throughput / ideal, 3),
        "light_load_rate": light_rate,
        "enqueue_to_start_ms": {
            "p50": round(percentile(to_start, 50), 1),
            "p99": round(percentile(to_start, 99), 1),
        },
        "per_job_ms": {
            "slot": round(cycle, 1),
            "task": round(task, 1),
            **{part: round(ms, 1) for part, ms in split.items()},
            "rest of the task": round(task - sum(split.values()), 1),
            "queue": round(cycle - task, 1),
            "side reads (overlapped)": round(side_reads, 1),
        },
        "enqueue_to_webhook_ms": {
            "p50": round(percentile(to_webhook, 50), 1),
            "p99": round(percentile(to_webhook, 99), 1),
        },
        "cpu_ms_per_job": {
            name: round((cpu_at_end[name] - cpu_at_start[name]) * 1000 / jobs, 2) for name in cpu_at_end
        },
        "load_average_at_end": load,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.workflow", description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--light-jobs", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fraiday-bench-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        redis_server = RedisServer(work / "redis")
        mongo = FerretDBServer(work / "mongo")
        redis_server.start()
        mongo.start()
        load_at_start = round(os.getloadavg()[0], 2)
        try:
            stack = Stack(redis_server.url, mongo.base_uri + "/bench", work / "logs")
            results = run(stack, args.jobs, args.concurrency, args.light_jobs, servers=mongo.pids())
        finally:
            redis_server.stop()
            mongo.shutdown()
    print(json.dumps({"load_average_at_start": load_at_start, **results}, indent=2))


if __name__ == "__main__":
    main()
