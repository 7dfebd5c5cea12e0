"""Scenarios 3 and 5: memory (PSS of a worker's whole process tree) and start-up, for every system."""

import time
from typing import Any

import requests

from bench.common import Stack, fraiday, spawn, stop, wait_until
from bench.jobs import COUNTER
from bench.systems import systems
from tests.harness.memory import process_tree, pss_mib
from tests.harness.process import free_port


def memory(stack: Stack, concurrencies: tuple[int, ...] = (2, 10), jobs: int = 500) -> list[dict[str, Any]]:
    """PSS after the worker has run ``jobs`` jobs, so what a job loads is counted."""
    results = []
    conn = stack.redis()
    for system in systems(stack):
        for concurrency in concurrencies:
            conn.flushdb()
            system.enqueue(jobs, "noop")
            log = stack.logs / f"memory-{system.name}-{concurrency}.log"
            process = spawn(system.worker(concurrency), stack.env(), log)
            try:
                wait_until(lambda: int(conn.get(COUNTER) or 0) >= jobs, 120)
                time.sleep(1)
                results.append(
                    {
                        "system": system.name,
                        "concurrency": concurrency,
                        "processes": len(process_tree(process.pid)),
                        "pss_mib": pss_mib(process.pid),
                    }
                )
            finally:
                stop(process)
    return results


def startup(stack: Stack) -> dict[str, Any]:
    """From starting a worker to its first job done (one job already queued), per system; and the server
    to its first 200 on /ping."""
    conn = stack.redis()
    workers = {}
    for system in systems(stack):
        conn.flushdb()
        system.enqueue(1, "noop")
        started = time.time()
        log = stack.logs / f"startup-{system.name}.log"
        worker = spawn(system.worker(2), stack.env(), log)
        try:
            workers[system.name] = round(
                wait_until(lambda: int(conn.get(COUNTER) or 0) >= 1, 30) - started, 3
            )
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
        "worker_to_first_job_s": workers,
        "server_to_first_ping_s": round(first_ping - started_server, 3),
    }
