"""The plot in docs/performance.md: no-op jobs/s and worker CPU per job, side by side for each system.

matplotlib (a dev dependency, for the bench) draws it as SVG, so the document's diff stays text; its
object API (``Figure``) needs no pyplot and no global backend."""

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure


def draw(results: dict[str, Any], path: Path) -> None:
    noop = [e for e in results["overhead"] if e["kind"] == "noop"]
    names = [e["system"] for e in noop]
    figure = Figure(figsize=(10, 3.6))
    rates, cpu = figure.subplots(1, 2)
    rates.barh(names, [e["jobs_per_second"] for e in noop], color="#4c72b0")
    rates.set_xscale("log")
    rates.set_xlabel("no-op jobs/s, concurrency 2 (log scale, higher is better)")
    cpu.barh(names, [e["worker_cpu_ms_per_job"] for e in noop], color="#dd8452")
    cpu.set_xlabel("worker CPU ms per job (lower is better)")
    cpu.set_yticklabels([])
    for axes in (rates, cpu):
        axes.invert_yaxis()
        axes.grid(axis="x", alpha=0.3)
    figure.suptitle(f"fraiday and its peers on one Redis ({results['ran_at']})", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, format="svg", metadata={"Date": None})
