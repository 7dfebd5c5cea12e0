"""What a run of jobs cost, read from the kernel and from Redis rather than from wall-clock rates.

The machine is shared and noisy, so jobs/s vary with whatever else runs; CPU seconds spent by the
worker's process tree and by redis-server, and the commands Redis served, do not.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import redis

from tests.harness.memory import process_tree

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process tree, with what its reaped children used (RQ forks per job)."""
    total_ticks = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: utime, stime, cutime, cstime are fields 12-15 (0-based from state).
        total_ticks += sum(int(value) for value in fields[11:15])
    return total_ticks / TICKS_PER_SECOND


@dataclass(frozen=True)
class Snapshot:
    worker_cpu_s: float
    redis_cpu_s: float
    redis_calls: int

    @classmethod
    def take(cls, worker_pid: int, conn: redis.Redis) -> "Snapshot":
        cpu = conn.info("cpu")
        calls = sum(int(stats["calls"]) for stats in cast(dict[str, Any], conn.info("commandstats")).values())
        return cls(
            worker_cpu_s=tree_cpu_seconds(worker_pid),
            redis_cpu_s=float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
            redis_calls=calls,
        )


def per_job(start: Snapshot, end: Snapshot, jobs: int, own_calls: int) -> dict[str, float]:
    """CPU ms and Redis commands per job between two snapshots; ``own_calls`` are the benchmark's own
    polls and INFO commands, left out of the count."""
    return {
        "worker_cpu_ms_per_job": round((end.worker_cpu_s - start.worker_cpu_s) * 1000 / jobs, 3),
        "redis_cpu_ms_per_job": round((end.redis_cpu_s - start.redis_cpu_s) * 1000 / jobs, 3),
        "redis_commands_per_job": round((end.redis_calls - start.redis_calls - own_calls) / jobs, 1),
    }
