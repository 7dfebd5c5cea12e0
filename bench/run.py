"""``nox -s bench`` (or ``python -m bench.run``): every scenario in one run, a table, and results.json.

Starts its own redis-server and MongoDB-wire server (as the tests do), so the only requirement is
``./scripts/setup.sh``. ``--quick`` shrinks every scenario for a smoke run; ``--only noop`` (or ``startup``,
``threads``) runs just that scenario and prints it, for measuring one change without the whole run.
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import api_load, database, overhead, plot, resources, threads, workflow
from bench.common import ROOT, Stack
from bench.systems import systems
from tests.harness.mongo_server import FerretDBServer
from tests.harness.redis_server import RedisServer

RESULTS = ROOT / "bench" / "results.json"
DOCUMENT = ROOT / "docs" / "performance.md"
PLOT = ROOT / "docs" / "performance.svg"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    system = f"{platform.system()} {platform.release()}"
    return f"{system}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def _ms(pair: dict[str, float]) -> str:
    return f"{pair['p50']} / {pair['p99']} ms"


def _by_system(results: dict[str, Any]) -> list[str]:
    """One row per system, the figures the goals are judged on first (CPU), rates after."""
    memory = {(e["system"], e["concurrency"]): e["pss_mib"] for e in results["memory"]}
    startup = results["startup"]["worker_to_first_job_s"]
    lines = [
        "| system | worker CPU ms / no-op job | Redis CPU ms / job | Redis commands / job "
        "| no-op jobs/s (c=2) | 200 ms jobs/s (c=10) | PSS c=2 / c=10 | start to first job |",
        "|---|---|---|---|---|---|---|---|",
    ]
    noop = {e["system"]: e for e in results["overhead"] if e["kind"] == "noop"}
    sleep = {e["system"]: e for e in results["overhead"] if e["kind"] == "sleep"}
    for name, e in noop.items():
        io_bound = sleep[name]
        lines.append(
            f"| {name} | {e['worker_cpu_ms_per_job']} | {e['redis_cpu_ms_per_job']} "
            f"| {e['redis_commands_per_job']} | {e['jobs_per_second']} "
            f"| {io_bound['jobs_per_second']} ({io_bound['share_of_ideal']:.0%}) "
            f"| {memory.get((name, 2))} / {memory.get((name, 10))} MiB | {startup.get(name)} s |"
        )
    return lines


def rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    flow = results["workflow"]
    scenario = f"2 chat workflow, {flow['jobs']} jobs, AI 200 ms, concurrency {flow['concurrency']}"
    share = f"{flow['share_of_ideal']:.0%} of ideal {flow['ideal_jobs_per_second']:g}"
    out.append((scenario, "throughput", f"{flow['jobs_per_second']} jobs/s = {share}"))
    light = f"2 light load, {flow['light_load_rate']:g} jobs/s"
    out.append((light, "enqueue to start p50 / p99", _ms(flow["enqueue_to_start_ms"])))
    out.append((light, "enqueue to webhook p50 / p99", _ms(flow["enqueue_to_webhook_ms"])))
    split = ", ".join(f"{part} {ms} ms" for part, ms in flow["per_job_ms"].items())
    out.append(("2 where a job's time goes", "mean per job", split))
    cpu = ", ".join(f"{part} {ms} ms" for part, ms in flow["cpu_ms_per_job"].items())
    out.append(("2 where a job's CPU goes", "CPU per job, by process", cpu))
    api = results["api"]
    value = f"{api['requests_per_second']} req/s, {_ms(api['latency_ms'])}, {api['errors']} errors"
    out.append((f"4 API POST /api/v1/events, {api['clients']} clients", "throughput, p50 / p99", value))
    out.append(
        ("5 start-up", "server to first 200 on /ping", f"{results['startup']['server_to_first_ping_s']} s")
    )
    for e in results["database"]:
        measure = f"{e['documents_per_collection']} documents per collection"
        out.append(
            (
                "6 one chat job's MongoDB work",
                measure,
                f"{e['median_ms']} ms median, {e['worst_ms']} ms worst",
            )
        )
    return out


def table(results: dict[str, Any]) -> str:
    lines = [*_by_system(results), "", "| scenario | measure | value |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows(results)]
    if "threads" in results:
        lines += ["", threads.table(results["threads"])]
    return "\n".join(lines)


def write_document(results: dict[str, Any], rendered: str) -> None:
    where = f"{results['machine']}, {results['mongodb']}"
    load = results.get("load_average")
    busy = f" Load average (1 min) {load['start']} at the start, {load['end']} at the end." if load else ""
    when = f"Latest run: {results['ran_at']} on {where}, `{results['command']}`.{busy}"
    section = f"{BEGIN}\n{when}\n\n{rendered}\n{END}"
    text = DOCUMENT.read_text() if DOCUMENT.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOCUMENT.write_text(head + section + tail)


NOOP_FIGURES = ("worker_cpu_ms_per_job", "redis_cpu_ms_per_job", "redis_commands_per_job", "jobs_per_second")


def only(stack: Stack, scenario: str, jobs: int, rounds: int = 1) -> None:
    """One scenario for every system, printed; results.json and the document are left as they are.

    With ``rounds`` over 1 the systems take turns that many times and each one's median follows its runs:
    on a shared machine a burst of other work lands on one system's run, not on all of them."""
    load_at_start = round(os.getloadavg()[0], 2)
    if scenario == "noop":
        runs: dict[str, list[dict[str, Any]]] = {}
        for _ in range(rounds):
            for system in systems(stack):
                e = overhead.measure(stack, system, jobs, 2, "noop")
                runs.setdefault(e["system"], []).append(e)
        lines = [
            "| system | worker CPU ms / job | Redis CPU ms / job | Redis commands / job | jobs/s (c=2) |"
        ]
        for name, measured in runs.items():
            lines += [f"| {name} | {' | '.join(str(e[f]) for f in NOOP_FIGURES)} |" for e in measured]
            if rounds > 1:
                medians = [round(statistics.median(e[f] for e in measured), 3) for f in NOOP_FIGURES]
                lines.append(f"| {name}, median of {rounds} | {' | '.join(f'**{m}**' for m in medians)} |")
    else:
        lines = ["| system | start to first job |"]
        lines += [
            f"| {name} | {s} s |" for name, s in resources.startup(stack)["worker_to_first_job_s"].items()
        ]
    print("\n".join(lines))
    print(f"load average (1 min): {load_at_start} at the start, {round(os.getloadavg()[0], 2)} at the end")


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--only",
        choices=["noop", "startup", "threads", "workflow"],
        help="run one scenario alone and print it",
    )
    parser.add_argument(
        "--jobs", type=int, help="--only noop: no-op jobs per system (10,000); threads, workflow: their jobs"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="--only noop: the systems take turns this many times (medians)"
    )
    return parser


def main() -> None:
    parser = arguments()
    args, rest = parser.parse_known_args()
    if rest and args.only not in ("threads", "workflow"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    standalone = {"threads": threads.main, "workflow": workflow.main}
    if args.only in standalone:
        standalone[args.only]([*rest, *(["--jobs", str(args.jobs)] if args.jobs else [])])
        return
    scale = 10 if args.quick else 1
    if args.only:
        with tempfile.TemporaryDirectory(prefix="fraiday-bench-") as tmp:
            redis_server = RedisServer(Path(tmp) / "redis")
            (Path(tmp) / "logs").mkdir()
            redis_server.start()
            try:
                # The no-op jobs never reach MongoDB: an address nothing answers on is enough.
                stack = Stack(redis_server.url, "mongodb://127.0.0.1:9/bench", Path(tmp) / "logs")
                only(stack, args.only, args.jobs or 10_000, args.rounds)
            finally:
                redis_server.stop()
        return
    with tempfile.TemporaryDirectory(prefix="fraiday-bench-") as tmp:
        work = Path(tmp)
        external = os.environ.get("FRAIDAY_TEST_MONGODB_URI")
        redis_server = RedisServer(work / "redis")
        mongo = None if external else FerretDBServer(work / "mongo")
        (work / "logs").mkdir()
        redis_server.start()
        if mongo is not None:
            mongo.start()
        workflow_jobs = 2000
        # The machine may be shared: the table says how busy it was, since rates depend on it.
        load_at_start = round(os.getloadavg()[0], 2)
        try:
            base = external.rstrip("/") if external else mongo.base_uri if mongo else ""
            stack = Stack(redis_server.url, base + "/bench", work / "logs")
            servers = mongo.pids() if mongo is not None else {}
            results: dict[str, Any] = {
                "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine(),
                "command": "nox -s bench" + (" -- --quick" if args.quick else ""),
                "overhead": overhead.run(stack, jobs=10_000 // scale, io_jobs=500 // scale),
                "mongodb": "MongoDB (FRAIDAY_TEST_MONGODB_URI)" if external else "FerretDB 1.24 (PostgreSQL)",
                "workflow": workflow.run(
                    stack, jobs=workflow_jobs // scale, light_jobs=100 // scale, servers=servers
                ),
                "memory": resources.memory(stack),
                "api": api_load.run(stack, seconds=10.0 / scale if args.quick else 10.0),
                "startup": resources.startup(stack),
                "threads": threads.run(stack, jobs=2000 // scale),
                "database": database.run(
                    stack, sizes=(1_000, 10_000, 50_000) if scale == 1 else (500, 5_000)
                ),
            }
            results["load_average"] = {"start": load_at_start, "end": round(os.getloadavg()[0], 2)}
        finally:
            redis_server.stop()
            if mongo is not None:
                mongo.shutdown()
    rendered = table(results)
    print(rendered)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    if not args.quick:
        plot.draw(results, PLOT)
        write_document(results, rendered)


if __name__ == "__main__":
    main()
