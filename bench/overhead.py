"""Scenario 1: per-job overhead, through fraiday and its peers. N no-op jobs (one INCR each) at
concurrency 2, and N I/O-bound jobs (200 ms each) at concurrency 10, whose ideal rate is 50 jobs/s.

Every system gets the same jobs, already queued, on the same Redis. Everything is measured from the
first job done to the last, so start-up is left out (it has its own scenario): the rate, and what the
goals are judged on, the CPU the worker's processes and redis-server spent per job and the Redis
commands per job.
"""

import time
from typing import Any

from bench.common import Stack, spawn, stop, wait_until
from bench.costs import Snapshot, per_job
from bench.jobs import COUNTER, SLEEP_SECONDS
from bench.systems import Kind, System, systems

# Each snapshot sends INFO cpu and INFO commandstats.
SNAPSHOT_CALLS = 2


def measure(stack: Stack, system: System, jobs: int, concurrency: int, kind: Kind) -> dict[str, Any]:
    conn = stack.redis()
    conn.flushdb()
    system.enqueue(jobs, kind)
    polls = 0

    def done(at_least: int) -> bool:
        nonlocal polls
        polls += 1
        return int(conn.get(COUNTER) or 0) >= at_least

    log = stack.logs / f"overhead-{system.name}-{kind}.log"
    process = spawn(system.worker(concurrency), stack.env(), log)
    try:
        first = wait_until(lambda: done(1), 60)
        start = Snapshot.take(process.pid, conn)
        polls_before = polls
        # RQ's fork-per-job pool does about 20 jobs/s on a busy 2-CPU machine: 10,000 took over 600 s.
        last = wait_until(lambda: done(jobs), max(600, jobs / 10))
        end = Snapshot.take(process.pid, conn)
    finally:
        stop(process)
    measured = jobs - 1
    own_calls = polls - polls_before + SNAPSHOT_CALLS
    # A sleeping job started SLEEP_SECONDS before it was seen done: the rate counts every job from
    # the first one's start, or ten parallel 200 ms jobs would seem faster than ideal.
    started = first - SLEEP_SECONDS if kind == "sleep" else first
    counted = jobs if kind == "sleep" else measured
    return {
        "system": system.name,
        "kind": kind,
        "concurrency": concurrency,
        "jobs": jobs,
        "seconds": round(last - started, 3),
        "jobs_per_second": round(counted / (last - started), 1),
        **per_job(start, end, measured, own_calls),
    }


def run(stack: Stack, jobs: int = 10_000, io_jobs: int = 500) -> list[dict[str, Any]]:
    results = []
    for system in systems(stack):
        results.append(measure(stack, system, jobs, 2, "noop"))
        io_bound = measure(stack, system, io_jobs, 10, "sleep")
        io_bound["share_of_ideal"] = round(io_bound["jobs_per_second"] * SLEEP_SECONDS / 10, 3)
        results.append(io_bound)
        time.sleep(0.5)
    return results
