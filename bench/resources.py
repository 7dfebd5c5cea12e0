"""Scenarios 3 and 5: memory (PSS of a worker's whole process tree) and start-up times."""

import time
from typing import Any

import requests

from bench.common import Stack, fraiday, spawn, stop, wait_until
from bench.jobs import COUNTER, QUEUE, REGISTRY
from fraiday_cli.tasks.client import TaskClient
from tests.harness.memory import process_tree, pss_mib
from tests.harness.process import free_port

WORKER = ("worker", "--queue", QUEUE, "--registry", "bench.jobs:REGISTRY")


def memory(stack: Stack, concurrencies: tuple[int, ...] = (2, 10), jobs: int = 500) -> list[dict[str, Any]]:
    results = []
    conn = stack.redis()
    for concurrency in concurrencies:
        conn.flushdb()
        client = TaskClient(conn, REGISTRY)
        for i in range(jobs):
            client.enqueue("bench:noop", {"n": i})
        process = spawn(
            fraiday(*WORKER, "--concurrency", str(concurrency)),
            stack.env(),
            stack.logs / f"memory-{concurrency}.log",
        )
        try:
            wait_until(lambda: int(conn.get(COUNTER) or 0) >= jobs, 120)
            time.sleep(1)
            results.append(
                {
                    "concurrency": concurrency,
                    "processes": len(process_tree(process.pid)),
                    "pss_mib": pss_mib(process.pid),
                }
            )
        finally:
            stop(process)
    return results


def startup(stack: Stack) -> dict[str, Any]:
    conn = stack.redis()
    conn.flushdb()
    TaskClient(conn, REGISTRY).enqueue("bench:noop", {"n": 0})
    started = time.time()
    worker = spawn(fraiday(*WORKER, "--concurrency", "2"), stack.env(), stack.logs / "startup-worker.log")
    try:
        first_job = wait_until(lambda: int(conn.get(COUNTER) or 0) >= 1, 30)
    finally:
        stop(worker)
    port = free_port()
    started_server = time.time()
    server = spawn(fraiday("server", "--port", str(port)), stack.env(), stack.logs / "startup-server.log")

    def pings() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/ping", timeout=0.5).status_code == 200
        except requests.RequestException:
            return False

    try:
        first_ping = wait_until(pings, 30, interval=0.01)
    finally:
        stop(server)
    return {
        "worker_to_first_job_s": round(first_job - started, 3),
        "server_to_first_ping_s": round(first_ping - started_server, 3),
    }
