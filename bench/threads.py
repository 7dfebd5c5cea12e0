"""Scenario 7: 100 AI calls of 2 s at once in one worker, as slots with job threads or as slots alone.

An LLM-bound queue waits seconds per job; the question is what running 100 of them at once costs in
memory, and whether threads keep up with processes. Every job is queued up front; throughput runs from
the first AI request to the last job done, against the ideal of 100 / 2 s = 50 jobs/s; PSS is the
largest of the worker's process tree sampled every second while the jobs run; CPU is the tree's, start-up
included, divided by the jobs.

``python -m bench.threads`` (or ``nox -s bench -- --only threads``) runs it alone and updates
results.json's ``threads`` entry.
"""

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.ai_jobs import COUNTER, QUEUE, REGISTRY
from bench.common import ROOT, Stack, fraiday, spawn, stop, wait_until
from bench.costs import tree_cpu_seconds
from fraiday_cli.tasks.client import TaskClient
from tests.harness.memory import process_tree, pss_mib
from tests.harness.redis_server import RedisServer
from tests.support.http_stub import Answer, http_stub

AI_SECONDS = 2.0
AT_ONCE = 100
LAYOUTS = ((4, 25), (2, 50), (100, 1))
"""(slots, threads per slot), each running 100 jobs at once."""
RESULTS = ROOT / "bench" / "results.json"


def _largest_pss(pid: int, stop_sampling: threading.Event, samples: list[float]) -> None:
    while not stop_sampling.wait(1.0):
        samples.append(pss_mib(pid))


def run_layout(stack: Stack, slots: int, threads: int, jobs: int) -> dict[str, Any]:
    conn = stack.redis()
    conn.flushdb()
    client = TaskClient(conn, REGISTRY)
    for n in range(jobs):
        client.enqueue("bench:ai", {"n": n})
    with http_stub() as stub:
        stub.script("/v1/chat", Answer(200, {"reply": "ok"}, delay=AI_SECONDS))
        args = ["worker", "-q", QUEUE, "-c", str(slots), "--threads", str(threads)]
        env = stack.env(AI_SERVICE_URL=stub.url)
        started = time.monotonic()
        worker = spawn(
            fraiday(*args, "--registry", "bench.ai_jobs:REGISTRY"),
            env,
            stack.logs / f"threads-{slots}x{threads}.log",
        )
        samples: list[float] = []
        sampling = threading.Event()
        sampler = threading.Thread(target=_largest_pss, args=(worker.pid, sampling, samples), daemon=True)
        sampler.start()
        try:
            done_at = wait_until(lambda: int(conn.get(COUNTER) or 0) >= jobs, 600, interval=0.05)
            ready = time.monotonic() - started
            processes = len(process_tree(worker.pid))
            cpu_seconds = tree_cpu_seconds(worker.pid)
        finally:
            sampling.set()
            sampler.join()
            stop(worker)
        first_call = min(request.received_at for request in stub.to("/v1/chat"))
    rate = jobs / (done_at - first_call)
    ideal = AT_ONCE / AI_SECONDS
    return {
        "slots": slots,
        "threads": threads,
        "jobs": jobs,
        "processes": processes,
        "jobs_per_second": round(rate, 1),
        "share_of_ideal": round(rate / ideal, 3),
        "pss_mib": max(samples, default=0.0),
        "worker_cpu_ms_per_job": round(cpu_seconds / jobs * 1000, 2),
        "start_to_last_job_s": round(ready, 1),
    }


def run(stack: Stack, jobs: int = 2000) -> dict[str, Any]:
    return {
        "ai_seconds": AI_SECONDS,
        "at_once": AT_ONCE,
        "ideal_jobs_per_second": AT_ONCE / AI_SECONDS,
        "layouts": [run_layout(stack, slots, threads, jobs) for slots, threads in LAYOUTS],
    }


def table(results: dict[str, Any]) -> str:
    lines = [
        f"| {results['at_once']} AI calls of {results['ai_seconds']:g} s at once | processes "
        f"| jobs/s (ideal {results['ideal_jobs_per_second']:g}) | PSS | worker CPU ms / job |",
        "|---|---|---|---|---|",
    ]
    for e in results["layouts"]:
        layout = f"--concurrency {e['slots']}" + (f" --threads {e['threads']}" if e["threads"] > 1 else "")
        lines.append(
            f"| `{layout}` | {e['processes']} | {e['jobs_per_second']} ({e['share_of_ideal']:.0%}) "
            f"| {e['pss_mib']} MiB | {e['worker_cpu_ms_per_job']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000, help="jobs per layout")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fraiday-bench-threads-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        redis_server = RedisServer(work / "redis")
        redis_server.start()
        try:
            # No MongoDB: the job makes no database call.
            results = run(Stack(redis_server.url, "mongodb://127.0.0.1:1/unused", work / "logs"), args.jobs)
        finally:
            redis_server.stop()
    print(table(results))
    stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**stored, "threads": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
