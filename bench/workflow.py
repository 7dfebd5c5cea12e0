"""Scenario 2: the I/O-bound chat workflow against an AI stub answering in 200 ms and a webhook receiver.

Throughput is measured with every job queued up front and compared with the ideal, concurrency divided
by the AI latency. Latency is measured at light load (a steady rate well under capacity): enqueue to
start, from RQ's own timestamps, and enqueue to webhook received.
"""

import time
from typing import Any

import requests
from rq.job import Job
from rq.serializers import JSONSerializer

from bench.common import Stack, fraiday, metric_total, percentile, spawn, stop, wait_until
from config import load_settings
from fraiday_cli.tasks.client import TaskClient
from handlers.services import Services
from handlers.task_types import REGISTRY
from tests.harness.process import free_port
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


def run(
    stack: Stack, jobs: int = 2000, concurrency: int = 10, light_jobs: int = 100, light_rate: float = 5.0
) -> dict[str, Any]:
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
            wait_until(lambda: len(stub.to("/hook")) >= jobs, 600, interval=0.05)
            times = sorted(_hooks_by_message(stub).values())
            first_start = min(r.received_at for r in stub.to("/v1/chat"))
            throughput = jobs / (times[-1] - first_start)

            light = _conversations(services, stub, light_jobs, "bench-light")
            enqueued: dict[str, tuple[float, str]] = {}
            for message_id, session_id in light:
                enqueued[message_id] = (time.time(), client.chat_workflow(message_id, session_id).task_id)
                time.sleep(1 / light_rate)
            wait_until(lambda: len(stub.to("/hook")) >= jobs + light_jobs, 120, interval=0.05)
            exposition = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
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
    done = jobs + light_jobs

    def per_job_ms(name: str) -> float:
        return round(metric_total(exposition, name) / done * 1000, 1)

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
            "task": per_job_ms("fraiday_task_duration_seconds_sum"),
            "ai": per_job_ms("fraiday_ai_request_duration_seconds_sum"),
            "mongodb": per_job_ms("fraiday_mongo_operation_duration_seconds_sum"),
            "webhook": per_job_ms("fraiday_webhook_delivery_duration_seconds_sum"),
        },
        "enqueue_to_webhook_ms": {
            "p50": round(percentile(to_webhook, 50), 1),
            "p99": round(percentile(to_webhook, 99), 1),
        },
    }
