"""Scenario 4: ``POST /api/v1/events`` under a fixed number of concurrent clients, default server settings."""

import threading
import time
import uuid
from typing import Any

import requests

from bench.common import Stack, fraiday, percentile, spawn, stop, wait_until
from tests.harness.process import free_port


def run(stack: Stack, clients: int = 16, seconds: float = 10.0) -> dict[str, Any]:
    stack.redis().flushdb()
    port = free_port()
    server = spawn(fraiday("server", "--port", str(port)), stack.env(), stack.logs / "api-server.log")
    url = f"http://127.0.0.1:{port}/api/v1/events"
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()

    def ready() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/ping", timeout=0.5).status_code == 200
        except requests.RequestException:
            return False

    def client(deadline: float) -> None:
        session = requests.Session()
        session.headers["Authorization"] = "Bearer bench-key"
        mine: list[float] = []
        failed: list[int] = []
        while time.monotonic() < deadline:
            body = {
                "event_id": uuid.uuid4().hex,
                "client_id": "bench",
                "event_type": "order.created",
                "entity_type": "order",
                "payload": {"total": 1},
            }
            started = time.perf_counter()
            response = session.post(url, json=body, timeout=10)
            mine.append((time.perf_counter() - started) * 1000)
            if response.status_code != 202:
                failed.append(response.status_code)
        with lock:
            latencies.extend(mine)
            errors.extend(failed)

    try:
        wait_until(ready, 30, interval=0.05)
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=client, args=(deadline,)) for _ in range(clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        stop(server)
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 2),
            "p99": round(percentile(latencies, 99), 2),
        },
    }
