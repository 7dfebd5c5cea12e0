"""A worker stopped while its slots are still starting exits 0 without a traceback.

(Ctrl+C right after ``run-local.sh`` prints its banner, or a rollout that replaces a pod at once: the
pool's stop signal used to land in a slot's setup as KeyboardInterrupt.)
"""

import signal
from pathlib import Path

from tests.processes import fraiday, wait_for


def test_a_stop_during_slot_start_is_clean(env: dict[str, str], tmp_path: Path) -> None:
    args = ["worker", "--queue", "events", "--concurrency", "4"]
    with fraiday(args, env, tmp_path / "worker.log") as worker:
        wait_for(lambda: "starting 4 slot(s)" in worker.output(), 60, interval=0.01, what="the pool's start")
        assert worker.stop(signal.SIGTERM) == 0
        output = worker.output()
    assert "All workers stopped" in output
    assert "Traceback" not in output, output
